// The host emulation of the CUDA runtime (cuda/emulation/cuda_runtime.h says what it emulates):
// devices, device memory, copies, errors, and launches that run every thread of a grid as a fiber.
#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

#include "emulator.h"

namespace tapegrad::emulation {

namespace {

constexpr size_t kAlignment = 256;      // what cudaMalloc guarantees
constexpr size_t kCanary = 256;         // at least this much canary after each allocation
constexpr size_t kArenaBytes = size_t(64) << 30;  // address space reserved per device
constexpr unsigned char kPoison = 0xff;  // NaN in float32 and float64, -1 in int64

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t environment_number(const char* name, size_t fallback) {
    const char* value = std::getenv(name);
    if (!value || !*value) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(value, &end, 10);
    if (*end) {
        std::fprintf(stderr, "tapegrad emulation: %s=%s is not a number\n", name, value);
        std::exit(2);
    }
    return size_t(n);
}

// ---- devices and their memory ---------------------------------------------------------------------
// Each device's memory is an arena of reserved address space, handed out upwards and never reused
// (a freed block's pages go back to the system, its address stays known as freed). Outside the
// emulation's own calls the arena is PROT_NONE: host code that reads or writes it faults.
struct Arena {
    char* base = nullptr;
    size_t top = 0;         // bytes handed out so far
    size_t live_bytes = 0;  // bytes of live allocations
    int access = 0;         // open DeviceAccess scopes
};

struct State {
    int device_count = int(std::clamp<size_t>(environment_number("TAPEGRAD_EMU_DEVICES", 1), 0, 16));
    size_t capacity = environment_number("TAPEGRAD_EMU_MEMORY", size_t(1) << 30);
    std::vector<Arena> arenas = std::vector<Arena>(size_t(device_count));
    std::map<const char*, Allocation> allocations;  // by data address
    cudaError_t sticky = cudaSuccess;
    std::string sticky_detail;
    bool in_launch = false;
};

State& state() {
    static State* s = new State;  // never destroyed: tensors may be freed after static destruction
    return *s;
}

thread_local int current = 0;
thread_local cudaError_t last_error = cudaSuccess;  // what cudaGetLastError returns next
thread_local cudaError_t last_failure = cudaSuccess;  // the last failed call's error, and its detail
thread_local std::string last_detail;

void ensure_fault_handler();

void protect(Arena& arena, int protection) {
    if (arena.top && mprotect(arena.base, round_up(arena.top, size_t(getpagesize())), protection) != 0) {
        std::perror("tapegrad emulation: mprotect");
        std::abort();
    }
}

Arena& arena_of(int device) {
    Arena& arena = state().arenas[size_t(device)];
    if (!arena.base) {
        void* p = mmap(nullptr, kArenaBytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            std::perror("tapegrad emulation: reserving device memory");
            std::abort();
        }
        arena.base = static_cast<char*>(p);
    }
    ensure_fault_handler();
    return arena;
}

int device_of_address(const void* p) {
    const char* c = static_cast<const char*>(p);
    for (size_t d = 0; d < state().arenas.size(); ++d) {
        const Arena& a = state().arenas[d];
        if (a.base && c >= a.base && c < a.base + kArenaBytes) return int(d);
    }
    return -1;
}

// ---- faults seen as signals: host code touching device memory ------------------------------------
struct sigaction previous_handler;

void restore_protections() {
    for (Arena& a : state().arenas) {
        a.access = 0;
        protect(a, PROT_NONE);
    }
    state().in_launch = false;
}

void on_segv(int signal, siginfo_t* info, void* context) {
    int device = device_of_address(info->si_addr);
    if (device >= 0) {
        const Allocation* a = allocation_at(info->si_addr);
        std::string where = !a ? "no allocation"
                            : fmt::format("{} allocation of {} bytes at {}", a->live ? "a live" : "a freed", a->bytes,
                                          static_cast<const void*>(a->data));
        std::string what = state().in_launch
                               ? fmt::format("a kernel on cuda:{} touched memory of cuda:{}", current, device)
                               : std::string("host code touched device memory: only kernels and cudaMemcpy can");
        std::string message = fmt::format("tapegrad emulation: {} (address {} on cuda:{}, in {})\n", what,
                                          info->si_addr, device, where);
        if (write(STDERR_FILENO, message.data(), message.size()) < 0) {}
        state().sticky = cudaErrorIllegalAddress;
        state().sticky_detail = what;
        restore_protections();
    }
    // Then whoever handled the signal before (Boost.Test reports it as the test's failure).
    if (previous_handler.sa_flags & SA_SIGINFO) {
        previous_handler.sa_sigaction(signal, info, context);
    } else if (previous_handler.sa_handler != SIG_DFL && previous_handler.sa_handler != SIG_IGN) {
        previous_handler.sa_handler(signal);
    } else {
        struct sigaction fallback = {};
        fallback.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &fallback, nullptr);  // returning re-runs the access, which now ends the process
    }
}

// Test frameworks install and restore their own handlers around each test: ours is put back in
// front of theirs before every call that changes what the host may touch.
void ensure_fault_handler() {
    struct sigaction now;
    sigaction(SIGSEGV, nullptr, &now);
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_segv) return;
    struct sigaction ours = {};
    ours.sa_sigaction = on_segv;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&ours.sa_mask);
    sigaction(SIGSEGV, &ours, &previous_handler);
}

// ---- threads as fibers ------------------------------------------------------------------------
constexpr size_t kStackBytes = size_t(64) << 10;

enum class FiberState { ready, at_block_barrier, at_warp_barrier, done };

struct Fiber {
    ucontext_t context;
    FiberState state;
    ThreadIndices indices;
};

struct Block {
    std::vector<Fiber> fibers;
    std::vector<uint64_t> warp_slots;
    ucontext_t scheduler;
    void (*body)(void*) = nullptr;
    void* closure = nullptr;
    Fiber* running = nullptr;
};

thread_local Block* running_block = nullptr;

// A thread's stack, with a guard page below it; kept for the next launch.
char* stack(size_t i) {
    static std::vector<char*> pool;
    if (i < pool.size()) return pool[i];
    size_t page = size_t(getpagesize());
    void* p = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        std::perror("tapegrad emulation: a thread's stack");
        std::abort();
    }
    mprotect(p, page, PROT_NONE);
    pool.push_back(static_cast<char*>(p) + page);
    return pool.back();
}

void fiber_main() {
    Block& block = *running_block;
    block.body(block.closure);
    block.running->state = FiberState::done;
}  // returns to the scheduler (uc_link)

// A fiber that starts at fiber_main on `stack` and returns to `scheduler`. (Its own function:
// getcontext returns twice, which must not clobber the caller's loop variables.)
[[gnu::noinline]] void prepare(Fiber& f, char* stack, ucontext_t* scheduler) {
    f.state = FiberState::ready;
    getcontext(&f.context);
    f.context.uc_stack.ss_sp = stack;
    f.context.uc_stack.ss_size = kStackBytes;
    f.context.uc_link = scheduler;
    makecontext(&f.context, fiber_main, 0);
}

void wait(FiberState barrier) {
    Block& block = *running_block;
    Fiber& self = *block.running;
    self.state = barrier;
    swapcontext(&self.context, &block.scheduler);
}

unsigned linear_thread(const ThreadIndices& t) {
    return t.thread.x + t.block_dim.x * (t.thread.y + t.block_dim.y * t.thread.z);
}

// Runs one block to its end; false (and a description) if its threads deadlock at barriers.
bool run_block(Block& block, std::string& why) {
    const size_t n = block.fibers.size();
    size_t done = 0;
    while (done < n) {
        bool ran = false;
        for (Fiber& f : block.fibers) {
            if (f.state != FiberState::ready) continue;
            block.running = &f;
            swapcontext(&block.scheduler, &f.context);
            ran = true;
            if (f.state == FiberState::done) ++done;
        }
        if (done == n) break;
        // Release a barrier when every thread it is for waits at it: __syncthreads every thread of
        // the block, a shuffle or __syncwarp every thread of the warp. A thread that has finished
        // never arrives: a barrier in a branch not every thread takes (undefined on a GPU) is
        // reported, not let through.
        bool released = false;
        auto release = [&](size_t first, size_t end, FiberState barrier) {
            bool all = std::all_of(block.fibers.begin() + first, block.fibers.begin() + end,
                                   [&](const Fiber& f) { return f.state == barrier; });
            if (!all) return;
            for (size_t i = first; i < end; ++i) block.fibers[i].state = FiberState::ready;
            released = true;
        };
        release(0, n, FiberState::at_block_barrier);
        for (size_t w = 0; w < n; w += warpSize) release(w, std::min(n, w + warpSize), FiberState::at_warp_barrier);
        if (!released && !ran) {
            size_t at_block = 0, at_warp = 0;
            for (const Fiber& f : block.fibers) {
                at_block += f.state == FiberState::at_block_barrier;
                at_warp += f.state == FiberState::at_warp_barrier;
            }
            why = fmt::format("the threads of block {} wait at barriers not all of them reach: {} at __syncthreads, {} "
                              "at a warp shuffle or __syncwarp, {} finished",
                              block.fibers[0].indices.block.x, at_block, at_warp, done);
            return false;
        }
    }
    return true;
}

std::string error_text(cudaError_t error) {
    switch (error) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInitializationError: return "initialization error";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorInvalidDevicePointer: return "invalid device pointer";
        case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevice: return "invalid device ordinal";
        case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
        case cudaErrorLaunchFailure: return "unspecified launch failure";
        default: return "unknown error";
    }
}

}  // namespace

// ---- emulator.h ----------------------------------------------------------------------------------

std::recursive_mutex& emulator_lock() {
    static std::recursive_mutex* m = new std::recursive_mutex;
    return *m;
}

int current_device() { return current; }

const Allocation* allocation_at(const void* p) {
    auto& all = state().allocations;
    auto it = all.upper_bound(static_cast<const char*>(p));
    if (it == all.begin()) return nullptr;
    --it;
    const Allocation& a = it->second;
    const char* c = static_cast<const char*>(p);
    return c >= a.data && c < a.data + a.block ? &a : nullptr;
}

const Allocation* device_range(const void* p, size_t bytes, std::string& why) {
    const Allocation* a = allocation_at(p);
    const char* c = static_cast<const char*>(p);
    if (!a) {
        why = device_of_address(p) >= 0 ? fmt::format("{} is device memory no allocation holds", p)
                                        : fmt::format("{} is host memory", p);
        return nullptr;
    }
    if (!a->live) {
        why = fmt::format("{} lies in a freed allocation of {} bytes on cuda:{}", p, a->bytes, a->device);
        return nullptr;
    }
    if (c + bytes > a->data + a->bytes) {
        why = fmt::format("{} bytes from {} run {} bytes past the end of its allocation of {} bytes on cuda:{}", bytes,
                          p, (c + bytes) - (a->data + a->bytes), a->bytes, a->device);
        return nullptr;
    }
    return a;
}

DeviceAccess::DeviceAccess(int device) : device_(device) {
    Arena& a = arena_of(device);
    if (a.access++ == 0) protect(a, PROT_READ | PROT_WRITE);
}

DeviceAccess::~DeviceAccess() {
    Arena& a = arena_of(device_);
    if (a.access > 0 && --a.access == 0) protect(a, PROT_NONE);
}

void check_canaries(int device, const char* what) {
    DeviceAccess access(device);
    for (const auto& [data, a] : state().allocations) {
        if (!a.live || a.device != device) continue;
        for (size_t i = a.bytes; i < a.block; ++i)
            if (static_cast<unsigned char>(a.data[i]) != kPoison) {
                fault(cudaErrorIllegalAddress,
                      fmt::format("{} wrote past the end of a device allocation of {} bytes at {} on cuda:{} (byte {} "
                                  "past its end)",
                                  what, a.bytes, static_cast<const void*>(a.data), device, i - a.bytes));
                return;
            }
    }
}

void fault(cudaError_t error, const std::string& detail) {
    if (state().sticky != cudaSuccess) return;  // the first fault is the one to report
    state().sticky = error;
    state().sticky_detail = detail;
}

cudaError_t sticky_error() { return state().sticky; }

cudaError_t failed(cudaError_t error, const std::string& detail) {
    last_error = last_failure = error;
    last_detail = detail;
    return error;
}

// ---- launches -------------------------------------------------------------------------------------

cudaError_t launch(dim3 grid, dim3 block_dim, const PointerArgument* pointers, int count, void (*body)(void*),
                   void* closure) {
    std::lock_guard<std::recursive_mutex> lock(emulator_lock());
    if (sticky_error()) return sticky_error();
    const size_t threads = size_t(block_dim.x) * block_dim.y * block_dim.z;
    if (threads == 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u ||
        grid.y > 65535 || grid.z > 65535)
        return failed(cudaErrorInvalidConfiguration,
                      fmt::format("grid ({}, {}, {}) of blocks ({}, {}, {}): a block has 1 to 1024 threads", grid.x,
                                  grid.y, grid.z, block_dim.x, block_dim.y, block_dim.z));
    // A pointer a kernel is given must be memory of the current device (or null): on a GPU,
    // anything else faults where the kernel reads it.
    for (int i = 0; i < count; ++i) {
        const void* p = pointers[i].value;
        if (!p) continue;
        const Allocation* a = allocation_at(p);
        std::string why = !a                    ? fmt::format("is not device memory ({} is host memory)", p)
                          : !a->live           ? fmt::format("points into a freed allocation of {} bytes", a->bytes)
                          : a->device != current ? fmt::format("points to memory of cuda:{}", a->device)
                                                 : "";
        if (!why.empty()) {
            fault(cudaErrorIllegalAddress,
                  fmt::format("a kernel launched on cuda:{}: its argument {} {}", current, pointers[i].position, why));
            return cudaSuccess;  // a fault shows at the next call, as on a GPU
        }
    }
    ensure_fault_handler();
    DeviceAccess access(current);
    state().in_launch = true;
    Block block;
    block.body = body;
    block.closure = closure;
    block.fibers.resize(threads);
    block.warp_slots.resize(threads);
    running_block = &block;
    std::string why;
    for (unsigned bz = 0; bz < grid.z && why.empty(); ++bz)
        for (unsigned by = 0; by < grid.y && why.empty(); ++by)
            for (unsigned bx = 0; bx < grid.x && why.empty(); ++bx) {
                for (size_t i = 0; i < threads; ++i) {
                    Fiber& f = block.fibers[i];
                    unsigned t = unsigned(i);
                    f.indices = {{t % block_dim.x, t / block_dim.x % block_dim.y, t / (block_dim.x * block_dim.y)},
                                 {bx, by, bz},
                                 block_dim,
                                 grid};
                    prepare(f, stack(i), &block.scheduler);
                }
                run_block(block, why);
            }
    running_block = nullptr;
    state().in_launch = false;
    if (!why.empty()) {
        fault(cudaErrorLaunchFailure, why);
        return cudaSuccess;
    }
    check_canaries(current, "a kernel");
    return cudaSuccess;
}

const ThreadIndices& thread_indices() { return running_block->running->indices; }

void sync_threads() { wait(FiberState::at_block_barrier); }

void sync_warp() { wait(FiberState::at_warp_barrier); }

uint64_t exchange_in_warp(uint64_t value, unsigned source) {
    Block& block = *running_block;
    unsigned self = linear_thread(block.running->indices), warp = self / warpSize * warpSize;
    block.warp_slots[self] = value;
    wait(FiberState::at_warp_barrier);  // every lane has offered its value
    uint64_t got = warp + source < block.warp_slots.size() ? block.warp_slots[warp + source] : value;
    wait(FiberState::at_warp_barrier);  // every lane has read before any offers the next
    return got;
}

}  // namespace tapegrad::emulation

// ---- the runtime API ------------------------------------------------------------------------------
using namespace tapegrad::emulation;

namespace {
using Lock = std::lock_guard<std::recursive_mutex>;

const char* kDeviceName = "tapegrad host emulation";

cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* call) {
    Lock lock(emulator_lock());
    if (sticky_error()) return sticky_error();
    if (bytes == 0) return cudaSuccess;
    // Each side is device memory (a live allocation, holding the whole range) or host memory.
    auto side = [&](const void* p, const char* name, bool& on_device, int& device) -> cudaError_t {
        on_device = device_of_address(p) >= 0;
        if (!on_device) return cudaSuccess;
        std::string why;
        const Allocation* a = device_range(p, bytes, why);
        if (!a) return failed(cudaErrorInvalidValue, fmt::format("{}: the {}: {}", call, name, why));
        device = a->device;
        return cudaSuccess;
    };
    bool src_device = false, dst_device = false;
    int src_dev = -1, dst_dev = -1;
    if (cudaError_t e = side(src, "source", src_device, src_dev)) return e;
    if (cudaError_t e = side(dst, "destination", dst_device, dst_dev)) return e;
    bool want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    bool want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    if (kind != cudaMemcpyDefault && (want_src != src_device || want_dst != dst_device)) {
        static const char* kinds[] = {"HostToHost", "HostToDevice", "DeviceToHost", "DeviceToDevice", "Default"};
        return failed(cudaErrorInvalidValue,
                      fmt::format("{} says cudaMemcpy{}, but it copies from {} to {} memory", call, kinds[kind],
                                  src_device ? "device" : "host", dst_device ? "device" : "host"));
    }
    {
        std::vector<std::unique_ptr<DeviceAccess>> access;
        if (src_device) access.push_back(std::make_unique<DeviceAccess>(src_dev));
        if (dst_device && dst_dev != src_dev) access.push_back(std::make_unique<DeviceAccess>(dst_dev));
        std::memmove(dst, src, bytes);
    }
    return cudaSuccess;
}
}  // namespace

cudaError_t cudaGetDeviceCount(int* count) {
    *count = state().device_count;
    return state().device_count == 0 ? failed(cudaErrorNoDevice, "TAPEGRAD_EMU_DEVICES=0") : cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
    Lock lock(emulator_lock());
    if (sticky_error()) return sticky_error();
    if (device < 0 || device >= state().device_count)
        return failed(cudaErrorInvalidDevice, fmt::format("cuda:{} of {} emulated device(s)", device, state().device_count));
    current = device;
    return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
    *device = current;
    return sticky_error();
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
    if (device < 0 || device >= state().device_count) return failed(cudaErrorInvalidDevice, "");
    *prop = {};
    std::snprintf(prop->name, sizeof prop->name, "%s", kDeviceName);
    prop->totalGlobalMem = state().capacity;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 1;
    prop->warpSize = warpSize;
    prop->maxThreadsPerBlock = 1024;
    return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
    Lock lock(emulator_lock());
    *total = state().capacity;
    *free = state().capacity - arena_of(current).live_bytes;
    return sticky_error();
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
    Lock lock(emulator_lock());
    if (sticky_error()) return sticky_error();
    Arena& arena = arena_of(current);
    size_t block = round_up(bytes, kAlignment) + kCanary;
    if (arena.live_bytes + bytes > state().capacity || arena.top + block > kArenaBytes)
        return failed(cudaErrorMemoryAllocation,
                      fmt::format("asked for {} bytes on cuda:{} with {} of {} bytes in use (TAPEGRAD_EMU_MEMORY)", bytes,
                                  current, arena.live_bytes, state().capacity));
    char* data = arena.base + arena.top;
    arena.top += block;
    arena.live_bytes += bytes;
    {
        DeviceAccess access(current);
        std::memset(data, kPoison, block);  // fresh memory holds NaN, its canary all bits set
    }
    state().allocations[data] = {data, bytes, block, current, true};
    *ptr = data;
    return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
    Lock lock(emulator_lock());
    if (!ptr) return cudaSuccess;
    if (sticky_error()) return sticky_error();
    auto it = state().allocations.find(static_cast<char*>(ptr));
    if (it == state().allocations.end() || !it->second.live)
        return failed(cudaErrorInvalidValue, fmt::format("cudaFree({}): not the start of a live allocation", ptr));
    Allocation& a = it->second;
    a.live = false;
    state().arenas[size_t(a.device)].live_bytes -= a.bytes;
    // Give its whole pages back to the system; the addresses stay reserved, known as freed.
    size_t page = size_t(getpagesize());
    char* first = reinterpret_cast<char*>(round_up(reinterpret_cast<uintptr_t>(a.data), page));
    char* last = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(a.data + a.block) / page * page);
    if (last > first) madvise(first, size_t(last - first), MADV_DONTNEED);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    return copy(dst, src, bytes, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return copy(dst, src, bytes, kind, "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                         cudaMemcpyKind kind) {
    Lock lock(emulator_lock());
    if (width > dpitch || width > spitch)
        return failed(cudaErrorInvalidValue,
                      fmt::format("cudaMemcpy2D: width {} exceeds a pitch (source {}, destination {})", width, spitch,
                                  dpitch));
    for (size_t row = 0; row < height; ++row)
        if (cudaError_t e = copy(static_cast<char*>(dst) + row * dpitch, static_cast<const char*>(src) + row * spitch,
                                 width, kind, "cudaMemcpy2D"))
            return e;
    return cudaSuccess;
}

cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
    Lock lock(emulator_lock());
    if (sticky_error()) return sticky_error();
    if (bytes == 0) return cudaSuccess;
    std::string why;
    const Allocation* a = device_range(ptr, bytes, why);
    if (!a) return failed(cudaErrorInvalidValue, "cudaMemset: " + why);
    DeviceAccess access(a->device);
    std::memset(ptr, value, bytes);
    return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t) { return cudaMemset(ptr, value, bytes); }

cudaError_t cudaDeviceSynchronize() { return sticky_error(); }

cudaError_t cudaStreamSynchronize(cudaStream_t) { return sticky_error(); }

cudaError_t cudaGetLastError() {
    if (sticky_error()) return sticky_error();
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError() { return sticky_error() ? sticky_error() : last_error; }

const char* cudaGetErrorString(cudaError_t error) {
    thread_local std::string text;
    text = error_text(error);
    const std::string& detail = error == sticky_error() ? state().sticky_detail
                                : error == last_failure ? last_detail
                                                        : text;
    if (error != cudaSuccess && &detail != &text && !detail.empty()) text += " (emulation: " + detail + ")";
    return text.c_str();
}

const char* cudaGetErrorName(cudaError_t error) {
    switch (error) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInitializationError: return "cudaErrorInitializationError";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
        case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
        case cudaErrorNoDevice: return "cudaErrorNoDevice";
        case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
        case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
        case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
        default: return "cudaErrorUnknown";
    }
}
