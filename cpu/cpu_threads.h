/// \file
/// The CPU backend's threads: how many, and how a loop is shared among them.
///
/// One pool of worker threads serves every parallel loop of the CPU kernels (elementwise loops,
/// reductions, the matrix products' column or row blocks). A loop is cut into chunks that depend
/// only on its size, never on the number of threads, so that a sum adds the same partial sums in the
/// same order with 1, 2 or N threads and results are bit-identical whatever the thread count.
///
/// Why not OpenMP: its team runs each region as one share per thread and ends it at a barrier, so
/// a region waits for every thread of the team, also for one the OS has descheduled to run another
/// process; on a busy machine thousands of small regions per train step each waited a time slice
/// (docs/BENCHMARKS.md, "Busy machine"). Here the calling thread takes
/// chunks itself, and workers take chunks as they wake; the caller waits only for chunks a worker
/// has already begun, never for a worker that has not started. When no worker comes, the loop runs
/// at the speed of one thread. A worker can still be descheduled inside a chunk it began: when the
/// caller waits far longer for one than its own chunks took (cpu/cpu_threads.cpp: kDescheduled), the
/// machine is busy, and the caller runs the loops alone for 50 ms before it tries the workers again.
///
/// Waiting: a worker with nothing to do spins for 50 microseconds (the next loop of a train step is
/// usually a few away), yielding its core to any other runnable process as it spins, then sleeps
/// until the next loop.
///
/// The number of threads: TAPEGRAD_NUM_THREADS if set, else the cores this process may run on (its
/// CPU affinity mask, capped by a cgroup CPU quota when there is one). It is read once, when the
/// library loads.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>

namespace tapegrad {

// ---- thresholds, measured (docs/BENCHMARKS.md, "thread policy") ----
/// Below this many elements of work a loop runs on the calling thread: handing out chunks costs
/// about a microsecond, and waking a sleeping worker several.
constexpr int64_t kParallelWork = int64_t(1) << 15;
/// Elements of work per chunk: a few microseconds each, enough chunks for the threads to share a
/// loop evenly and for the caller to take all of them when the workers are slow to come.
constexpr int64_t kChunkWork = int64_t(1) << 14;
/// A loop never has more chunks than this.
constexpr int64_t kMaxChunks = 256;

/// How many threads run the CPU's loops, why, and how they treat subnormal numbers.
struct ThreadPolicy {
    int threads = 1;     ///< threads that run a loop, the caller included
    std::string source;  ///< why: "TAPEGRAD_NUM_THREADS", "CPU affinity", "cgroup CPU quota"
    /// Subnormal numbers (below 1.2e-38 in float32) flushed to zero, in results and in inputs
    /// (the FTZ and DAZ bits of each thread's SSE control register), unless TAPEGRAD_DENORMALS=keep.
    /// Why: a gradient multiplied by factors below 1 over many steps fades into subnormals, and
    /// Intel CPUs compute on those several times slower, in matrix products above all
    /// (docs/BENCHMARKS.md, "Subnormals"). TensorFlow and XLA flush them too; PyTorch keeps them unless
    /// torch.set_flush_denormal(True).
    bool flush_denormals = true;
};
/// The policy in force (decided by the first call).
const ThreadPolicy& thread_policy();
/// "threads: 2 (CPU affinity: 2 cores), subnormals flushed to zero": for programs to print what
/// they chose.
std::string thread_summary();
/// For tests and benchmarks that compare thread counts in one process: from now on loops use
/// `threads` (>= 1) threads.
void set_num_threads(int threads);
/// The threads a loop runs on now, the caller included.
int num_threads();

/// Runs chunk(i) for i in [0, chunks), each exactly once, on the calling thread and the pool's
/// workers, and returns when all have run. Calls from a chunk, or from a second thread while
/// another's loop runs, run their chunks on the calling thread.
void run_chunks(int64_t chunks, void (*chunk)(void* context, int64_t index), void* context);

/// fn(i) for i in [0, chunks) through run_chunks.
template <typename Fn>
void parallel_chunks(int64_t chunks, Fn fn) {
    run_chunks(chunks, [](void* f, int64_t i) { (*static_cast<Fn*>(f))(i); }, &fn);
}

/// The chunks of a loop of `work` elements: a function of the work alone.
inline int64_t chunks_for(int64_t work) { return std::clamp<int64_t>(work / kChunkWork, 1, kMaxChunks); }

/// body(begin, end) over [0, count) cut into chunks_for(work) contiguous ranges (`work`: the
/// elements the loop touches), or body(0, count) on the calling thread when the work is small.
/// body is copied into each chunk's call, so lambdas passed here capture by value ([=]): their
/// pointers then sit in registers, and the compiler can vectorise the loops inside.
template <typename Body>
void parallel_for(int64_t count, int64_t work, Body body) {
    // The same chunks on one thread as on many: a vectorised loop's scalar remainder (another
    // rounding of expf, say) then falls on the same elements whatever the thread count.
    const int64_t chunks = std::min(count, chunks_for(work));
    if (work <= kParallelWork || chunks <= 1) {
        body(int64_t(0), count);
        return;
    }
    parallel_chunks(chunks, [body, count, chunks](int64_t i) {
        Body local = body;
        local(count * i / chunks, count * (i + 1) / chunks);
    });
}

}  // namespace tapegrad
