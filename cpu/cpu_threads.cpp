#include "cpu_threads.h"

#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "../core/error.h"

namespace tapegrad {

namespace {

// The cores a cgroup (v2: cpu.max "quota period"; v1: cfs_quota_us / cfs_period_us) lets this
// process use, rounded up; 0 when there is no quota.
int cgroup_cores() {
    std::ifstream v2("/sys/fs/cgroup/cpu.max");
    std::string quota;
    double period = 0;
    if (v2 >> quota >> period && quota != "max" && period > 0) return int(std::ceil(std::stod(quota) / period));
    std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
    double q = -1, p = 0;
    if (q1 >> q && p1 >> p && q > 0 && p > 0) return int(std::ceil(q / p));
    return 0;
}

ThreadPolicy decide_policy() {
    ThreadPolicy policy;
    if (const char* env = std::getenv("TAPEGRAD_DENORMALS")) {
        if (std::string(env) != "keep" && std::string(env) != "flush")
            fail("TAPEGRAD_DENORMALS", "is \"{}\" (expected keep or flush)", env);
        policy.flush_denormals = std::string(env) == "flush";
    }
    if (const char* env = std::getenv("TAPEGRAD_NUM_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end == env || *end != '\0' || n < 1 || n > 1024)
            fail("TAPEGRAD_NUM_THREADS", "is \"{}\" (expected a whole number from 1 to 1024)", env);
        policy.threads = int(n);
        policy.source = "TAPEGRAD_NUM_THREADS";
        return policy;
    }
    cpu_set_t mask;
    int cores = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : int(sysconf(_SC_NPROCESSORS_ONLN));
    policy.threads = std::max(cores, 1);
    policy.source = fmt::format("CPU affinity: {} cores", cores);
    const int quota = cgroup_cores();
    if (quota > 0 && quota < policy.threads) {
        policy.threads = quota;
        policy.source = fmt::format("cgroup CPU quota: {} cores", quota);
    }
    return policy;
}

// Sets the calling thread's subnormal mode (ThreadPolicy::flush_denormals). Threads inherit it
// from the thread that creates them; the pool's workers set it themselves.
void apply_denormal_mode() {
#if defined(__SSE2__)
    const unsigned ftz_daz = 0x8040;  // MXCSR bits: flush to zero (15), denormals are zero (6)
    const unsigned mxcsr = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(thread_policy().flush_denormals ? mxcsr | ftz_daz : mxcsr & ~ftz_daz);
#endif
}

// The program's first thread gets the mode as the library loads. A bad TAPEGRAD_NUM_THREADS or
// TAPEGRAD_DENORMALS cannot be reported here (an exception during static initialisation ends the
// program): it is thrown, as a tapegrad::Error, by the first loop or thread query instead.
[[maybe_unused]] const bool main_thread_mode = [] {
    try {
        apply_denormal_mode();
    } catch (const Error&) {
    }
    return true;
}();

// A worker with nothing to do spins this long before it sleeps (the next loop of a train step is
// usually a few microseconds away; waking a sleeping thread takes tens).
constexpr auto kSpin = std::chrono::microseconds(50);

// A wait for a worker's chunk longer than this (and than 8 of the caller's own chunks) means the
// worker was descheduled: a time slice of the OS scheduler is milliseconds, a chunk microseconds.
constexpr auto kDescheduled = std::chrono::microseconds(200);
// Then the loops run on the calling thread alone for this long.
constexpr auto kAlone = std::chrono::milliseconds(50);
using Clock = std::chrono::steady_clock;

// One round of waiting: a few pause instructions, and every 16th round a yield of the core to any
// other runnable thread (another process's, or a worker inside a chunk the caller waits for).
inline void wait_a_little(int round) {
#if defined(__x86_64__) || defined(__i386__)
    for (int i = 0; i < 4; ++i) __builtin_ia32_pause();
#endif
    if (round % 16 == 15) sched_yield();
}

// The widest chunk count the pool's state word holds (its 20-bit fields); longer loops run inline.
constexpr int kCountBits = 20;

// The pool. One loop at a time: `state` holds the loop's number (epoch), its chunk count and the
// next chunk to hand out, in one word, so that a worker claims a chunk of the loop it saw and never
// one of a later loop it has not read. A loop's caller waits until `done` counts every chunk; a
// worker counts a chunk only after running it, so all chunks of a loop have run before the next
// loop is published, and a worker that wakes late finds nothing left and goes back to waiting.
class Pool {
public:
    void run(int64_t chunks, void (*chunk)(void*, int64_t), void* context) {
        std::unique_lock<std::mutex> owner(busy_, std::defer_lock);
        // A loop inside a chunk, or while another thread's runs, or while the machine is busy.
        if (in_chunk_ || !owner.try_lock() || Clock::now() < alone_until_) {
            for (int64_t i = 0; i < chunks; ++i) chunk(context, i);
            return;
        }
        ensure_workers();
        chunk_ = chunk;
        context_ = context;
        done_.store(0, std::memory_order_relaxed);
        const uint64_t epoch = (epoch_of(state_.load(std::memory_order_relaxed)) + 1) & kEpochMask;
        state_.store(pack(epoch, uint64_t(chunks), 0), std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(sleep_mutex_);
            wake_.notify_all();
        }
        in_chunk_ = true;
        const Clock::time_point start = Clock::now();
        const int64_t mine = work(epoch);
        in_chunk_ = false;
        if (done_.load(std::memory_order_acquire) == chunks) return;
        // A worker is inside a chunk. If it takes far longer than the caller's own chunks took, the
        // OS has most likely descheduled it for another process: then the caller runs the loops
        // alone for a while (kAlone), and tries the workers again after that.
        const Clock::time_point finished = Clock::now();
        for (int round = 0; done_.load(std::memory_order_acquire) < chunks; ++round) wait_a_little(round);
        const Clock::duration own = (finished - start) / std::max<int64_t>(mine, 1), waited = Clock::now() - finished;
        if (waited > kDescheduled && waited > 8 * own) alone_until_ = Clock::now() + kAlone;
    }

private:
    // state: epoch (24 bits) | chunks (20 bits) | next chunk (20 bits)
    static constexpr uint64_t kEpochMask = (uint64_t(1) << 24) - 1, kField = (uint64_t(1) << kCountBits) - 1;
    static uint64_t pack(uint64_t epoch, uint64_t chunks, uint64_t next) {
        return epoch << (2 * kCountBits) | chunks << kCountBits | next;
    }
    static uint64_t epoch_of(uint64_t s) { return s >> (2 * kCountBits); }
    static uint64_t chunks_of(uint64_t s) { return (s >> kCountBits) & kField; }
    static uint64_t next_of(uint64_t s) { return s & kField; }

    // Claims and runs chunks of loop `epoch` until none is left; returns how many it ran.
    int64_t work(uint64_t epoch) {
        int64_t ran = 0;
        uint64_t s = state_.load(std::memory_order_acquire);
        while (epoch_of(s) == epoch && next_of(s) < chunks_of(s)) {
            if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
            chunk_(context_, int64_t(next_of(s)));
            ++ran;
            done_.fetch_add(1, std::memory_order_release);
            s = state_.load(std::memory_order_acquire);
        }
        return ran;
    }

    void worker() {
        apply_denormal_mode();
        in_chunk_ = true;  // a loop started from inside a chunk runs inline
        uint64_t seen = epoch_of(state_.load(std::memory_order_acquire));
        for (;;) {
            uint64_t epoch = epoch_of(state_.load(std::memory_order_acquire));
            const auto give_up = Clock::now() + kSpin;
            for (int round = 0; epoch == seen; ++round) {
                wait_a_little(round);
                epoch = epoch_of(state_.load(std::memory_order_acquire));
                if (round % 16 == 15 && Clock::now() > give_up) break;
            }
            if (epoch == seen) {
                std::unique_lock<std::mutex> lock(sleep_mutex_);
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                wake_.wait(lock, [&] {
                    return epoch_of(state_.load(std::memory_order_seq_cst)) != seen;
                });
                sleepers_.fetch_sub(1, std::memory_order_seq_cst);
                continue;
            }
            seen = epoch;
            work(epoch);
        }
    }

    void ensure_workers() {
        const int wanted = num_threads() - 1;
        for (; workers_ < wanted; ++workers_) std::thread([this] { worker(); }).detach();
    }

    std::mutex busy_;                 // held by the thread whose loop runs
    Clock::time_point alone_until_;  // until then loops run on the caller alone (guarded by busy_)
    int workers_ = 0;  // workers started (they run until the process ends)
    std::atomic<uint64_t> state_{0};
    std::atomic<int64_t> done_{0};
    void (*chunk_)(void*, int64_t) = nullptr;
    void* context_ = nullptr;
    std::mutex sleep_mutex_;
    std::condition_variable wake_;
    std::atomic<int> sleepers_{0};
    static thread_local bool in_chunk_;
};
thread_local bool Pool::in_chunk_ = false;

std::atomic<int>& thread_count() {
    static std::atomic<int> count{thread_policy().threads};
    return count;
}

// Never destroyed: a loop may still run in another static object's destructor at exit.
Pool& pool() {
    static Pool* instance = new Pool;
    return *instance;
}

}  // namespace

const ThreadPolicy& thread_policy() {
    static const ThreadPolicy policy = decide_policy();
    return policy;
}

std::string thread_summary() {
    const ThreadPolicy& p = thread_policy();
    const int now = num_threads();
    const char* subnormals = p.flush_denormals ? "subnormals flushed to zero" : "subnormals kept";
    return now == p.threads
               ? fmt::format("threads: {} ({}), {}", now, p.source, subnormals)
               : fmt::format("threads: {} (set by the program; {} gave {}), {}", now, p.source, p.threads, subnormals);
}

void set_num_threads(int threads) {
    if (threads < 1) fail("set_num_threads", "threads must be >= 1, got {}", threads);
    thread_count().store(threads);
}

int num_threads() { return thread_count().load(std::memory_order_relaxed); }

void run_chunks(int64_t chunks, void (*chunk)(void*, int64_t), void* context) {
    if (chunks <= 0) return;
    if (chunks == 1 || num_threads() == 1 || chunks >= (int64_t(1) << kCountBits)) {
        for (int64_t i = 0; i < chunks; ++i) chunk(context, i);
        return;
    }
    pool().run(chunks, chunk, context);
}

}  // namespace tapegrad
