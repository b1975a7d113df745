// Contention: the LSTM and QL-LSTM train steps of bench_cells (B = 32, T = 256, H = 128) and the
// PR-LSTM train step of bench_pr_lstm (B = 128, H = 256, n = 40), timed on an idle machine and with
// one competing busy process, for the default thread policy, 1 thread and 2 threads, and beside the
// PyTorch peer (bench/python_peer.h, when .venv/ has torch) under the same load.
//
// Why: a shared machine is the common case, and a thread policy that is fast only when it has every
// core to itself collapses there (OpenMP's spinning barriers and fixed team made PR-LSTM training
// far slower on 2 threads than on 1 beside a busy process: docs/BENCHMARKS.md, "Busy machine").
// Goals, with the spinner: (a) the default within 1.15x of the best fixed thread count and never
// slower than 1 thread; (b) the default ahead of the PyTorch peer.
//
// How:
// - Each configuration is its own process: bench_cells or bench_pr_lstm in its worker mode
//   (`--step NAME --rounds N`, bench/step_worker.h: one warm-up step, then the median of N), with
//   TAPEGRAD_NUM_THREADS set to the thread count, or unset for the default policy: the library reads
//   it once at start-up (cpu/cpu_threads.h).
// - The load: a child process of this bench running a busy loop, as much CPU as one core. It is
//   killed when a loaded phase ends, when this bench exits or is interrupted, and by the kernel if
//   this bench dies (PR_SET_PDEATHSIG).
// - Phases alternate idle, loaded, idle, loaded, ...; in each phase every configuration and the peer
//   run once (in an order that rotates from phase to phase). A figure is the median over the phases
//   of one kind of each phase's median, so that the host's drift (others' builds come and go) hits
//   every configuration alike.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "bench/python_peer.h"
#include "train/option_checks.h"

using tapegrad::bench::median;
using tapegrad::bench::PythonPeer;
using tapegrad::bench::verdict;
using tapegrad::bench::versus_peer;

namespace {

// A timed step: the bench that builds it, its worker-mode name, its PyTorch twin (a loop of torch
// ops with the same equations and schedule, scripts/torch_peer.py).
struct Step {
    const char* name;
    const char* bench;
    const char* worker_step;
    const char* peer_name;
    bool long_step;  // timed --pr-rounds times, not --rounds (PR-LSTM's step is several times longer)
};
const Step kSteps[] = {{"LSTM", "bench_cells", "lstm", "LSTM_loop", false},
                       {"QL-LSTM", "bench_cells", "qllstm", "QL-LSTM_loop", false},
                       {"PR-LSTM n=40", "bench_pr_lstm", "prlstm", "PRLSTM_40", true}};
constexpr int kStepCount = int(std::size(kSteps));

// The thread settings compared: 0 = the default policy (no variable set).
const int kThreads[] = {0, 1, 2};
constexpr int kConfigCount = int(std::size(kThreads)), kPeerColumn = kConfigCount;  // then PyTorch
const char* const kColumnNames[] = {"default", "1 thread", "2 threads", "PyTorch"};

// ---- the competing busy process ----

pid_t spinner = 0;

void stop_spinner() {
    if (spinner <= 0) return;
    kill(spinner, SIGKILL);
    waitpid(spinner, nullptr, 0);
    spinner = 0;
}

void start_spinner() {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed: cannot start the busy process");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with this bench, however it ends
        if (getppid() != parent) _exit(0);  // the bench died before prctl took effect
        for (volatile uint64_t i = 0;; i = i + 1) {
        }
    }
    spinner = pid;
}

void on_signal(int sig) {
    stop_spinner();
    signal(sig, SIG_DFL);
    raise(sig);
}

// ---- the workers ----

struct WorkerResult {
    double ms = -1;
    std::string setup;  // the worker's "# ..." line: its BLAS and thread set-up
};

WorkerResult run_worker(const std::string& dir, const Step& step, int threads, int rounds, double seconds) {
    const std::string env =
        threads == 0 ? "env -u TAPEGRAD_NUM_THREADS" : "env TAPEGRAD_NUM_THREADS=" + std::to_string(threads);
    const std::string command = env + " '" + dir + "/" + step.bench + "' --step " + step.worker_step + " --rounds " +
                                std::to_string(rounds) + " --seconds " + std::to_string(seconds);
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run " + command);
    WorkerResult result;
    char line[1024];
    while (std::fgets(line, sizeof line, pipe)) {
        std::string text(line);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        if (text.rfind("# ", 0) == 0) result.setup = text.substr(2);
        else std::sscanf(line, "ms %lf", &result.ms);
    }
    const int status = pclose(pipe);
    if (result.ms < 0)
        throw std::runtime_error(command + " printed no \"ms\" line (status " + std::to_string(status) + ")");
    return result;
}

// The directory of this program: its workers are built beside it.
std::string own_directory() {
    char path[4096];
    const ssize_t length = readlink("/proc/self/exe", path, sizeof path - 1);
    if (length <= 0) throw std::runtime_error("cannot read /proc/self/exe");
    const std::string exe(path, size_t(length));
    return exe.substr(0, exe.rfind('/'));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    // Sized for `make bench` on a 2-core machine (a few minutes): under load a step of the
    // collapsing configurations (and of the peer) takes seconds.
    int rounds = 3, pr_rounds = 2, peer_steps = 2, phase_pairs = 2;
    double seconds = 2;
    bool quick = false;
    CLI::App app{"Train steps idle and with one competing busy process: default thread policy, 1 and 2 threads, "
                 "PyTorch peer"};
    app.add_option("--rounds", rounds, "timed LSTM and QL-LSTM steps per worker (after one warm-up)")
        ->check(tapegrad::at_least(1));
    app.add_option("--pr-rounds", pr_rounds, "timed PR-LSTM steps per worker")->check(tapegrad::at_least(1));
    app.add_option("--peer-steps", peer_steps, "timed steps of each model in the PyTorch peer")
        ->check(tapegrad::at_least(1));
    app.add_option("--phases", phase_pairs, "pairs of phases (idle, then loaded)")->check(tapegrad::at_least(1));
    app.add_option("--seconds", seconds, "a worker stops timing once its timed steps add up to this (at least one)")
        ->check(tapegrad::real_in(0, tapegrad::kUnbounded, true));
    app.add_flag("--quick", quick, "one pair of phases, one timed step per worker (a smoke test)");
    CLI11_PARSE(app, argc, argv);
    if (quick) rounds = pr_rounds = peer_steps = phase_pairs = 1;

    std::atexit(stop_spinner);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    const auto start = std::chrono::steady_clock::now();
    tapegrad::bench::warn_if_loaded();
    const std::string dir = own_directory();
    for (const char* bench : {"bench_cells", "bench_pr_lstm"})
        if (access((dir + "/" + bench).c_str(), X_OK) != 0) {
            std::fprintf(stderr, "bench_contention: %s/%s is missing: it runs that bench as its worker (make %s/%s)\n",
                         dir.c_str(), bench, dir.c_str(), bench);
            return 1;
        }
    std::printf("Contention: train steps idle and with one competing busy process (a child of this bench spinning "
                "on one of the %ld cores); %d idle and %d loaded phases, alternating; in each, every configuration "
                "is one process timing %d steps (PR-LSTM %d, the peer %d; a worker stops after %.0f s of steps) after "
                "a warm-up; figures: ms/step, wall time, the median over the phases of each phase's median (of two "
                "phases: the slower)\n",
                sysconf(_SC_NPROCESSORS_ONLN), phase_pairs, phase_pairs, rounds, pr_rounds, peer_steps, seconds);
    std::fflush(stdout);

    // samples[load][step][column]: one median per phase; load 0 = idle, 1 = loaded.
    std::vector<double> samples[2][kStepCount][kConfigCount + 1];
    std::string default_setup[2];
    std::string peer_missing;
    std::vector<std::string> peer_notes;
    try {
        for (int phase = 0; phase < 2 * phase_pairs; ++phase) {
            const int load = phase % 2;
            if (load) start_spinner();
            for (int s = 0; s < kStepCount; ++s) {
                const Step& step = kSteps[s];
                for (int k = 0; k < kConfigCount; ++k) {
                    const int c = (k + phase / 2) % kConfigCount;  // rotate who runs first after a switch
                    const int timed = step.long_step ? pr_rounds : rounds;
                    const WorkerResult r = run_worker(dir, step, kThreads[c], timed, seconds);
                    samples[load][s][c].push_back(r.ms);
                    if (kThreads[c] == 0 && default_setup[load].empty()) default_setup[load] = r.setup;
                }
            }
            // The peer under the same load, all three steps in one run (importing torch takes seconds).
            if (peer_missing.empty()) {
                const std::string args = "--pr 40 --only LSTM_loop QL-LSTM_loop --steps " + std::to_string(peer_steps);
                const PythonPeer peer = tapegrad::bench::run_peer(tapegrad::bench::torch_peer_kind, args);
                peer_missing = tapegrad::bench::peer_missing(peer);
                if (peer_notes.empty()) peer_notes = peer.notes;
                for (int s = 0; s < kStepCount; ++s) {
                    auto it = peer.ms.find(kSteps[s].peer_name);
                    if (it != peer.ms.end()) samples[load][s][kPeerColumn].push_back(it->second);
                }
            }
            if (load) stop_spinner();
            // This phase's figures (default / 1 thread / 2 threads / PyTorch), to show the drift.
            std::printf("  phase %d of %d, %s, done at %.0f s:", phase + 1, 2 * phase_pairs, load ? "loaded" : "idle",
                        seconds_since(start));
            for (int s = 0; s < kStepCount; ++s) {
                std::printf(" %s", kSteps[s].name);
                for (int c = 0; c <= kConfigCount; ++c) {
                    const std::vector<double>& v = samples[load][s][c];
                    if (int(v.size()) > phase / 2) std::printf("%s%.0f", c ? "/" : " ", v.back());
                }
                std::printf(s + 1 < kStepCount ? "," : " ms\n");
            }
            std::fflush(stdout);
        }
    } catch (const std::exception& e) {
        stop_spinner();
        std::fprintf(stderr, "bench_contention: %s\n", e.what());
        return 1;
    }

    std::printf("\ndefault policy, idle:   %s\n", default_setup[0].c_str());
    std::printf("default policy, loaded: %s\n", default_setup[1].c_str());
    for (const std::string& note : peer_notes) std::printf("%s\n", note.c_str());
    std::printf("%-13s %-7s %9s %9s %9s %9s   %-18s %-16s %s\n", "step", "load", kColumnNames[0], kColumnNames[1],
                kColumnNames[2], kColumnNames[3], "default/best fixed", "default/1 thread", "default vs PyTorch");
    // figure[load][step][column], -1 where nothing was measured (the peer when torch is missing).
    double figure[2][kStepCount][kConfigCount + 1];
    for (int load = 0; load < 2; ++load)
        for (int s = 0; s < kStepCount; ++s) {
            for (int c = 0; c <= kConfigCount; ++c)
                figure[load][s][c] = samples[load][s][c].empty() ? -1 : median(samples[load][s][c]);
            const double* f = figure[load][s];
            std::printf("%-13s %-7s", kSteps[s].name, load ? "loaded" : "idle");
            for (int c = 0; c <= kConfigCount; ++c)
                if (f[c] < 0) std::printf(" %9s", "-");
                else std::printf(" %9.1f", f[c]);
            std::printf("   %17.2fx %15.2fx  %s\n", f[0] / std::min(f[1], f[2]), f[0] / f[1],
                        f[kPeerColumn] < 0 ? "-" : versus_peer(f[0], f[kPeerColumn]).c_str());
        }

    // The goals, from the loaded phases.
    bool within = true, ahead = true;
    std::string fixed_detail, peer_detail;
    char buffer[160];
    for (int s = 0; s < kStepCount; ++s) {
        const double* f = figure[1][s];
        const double best = std::min(f[1], f[2]);
        within &= f[0] <= 1.15 * best && f[0] <= f[1];
        if (f[1] <= f[2])
            std::snprintf(buffer, sizeof buffer, "%s%s %.2fx of 1 thread, the best", s ? "; " : "", kSteps[s].name,
                          f[0] / best);
        else
            std::snprintf(buffer, sizeof buffer, "%s%s %.2fx of 2 threads, the best, %.2fx of 1 thread", s ? "; " : "",
                          kSteps[s].name, f[0] / best, f[0] / f[1]);
        fixed_detail += buffer;
        if (f[kPeerColumn] < 0) continue;
        ahead &= f[0] < f[kPeerColumn];
        std::snprintf(buffer, sizeof buffer, "%s%s %s", s ? "; " : "", kSteps[s].name,
                      versus_peer(f[0], f[kPeerColumn]).c_str());
        peer_detail += buffer;
    }
    std::printf("goal (a), with the spinner: the default within 1.15x of the best fixed thread count and never "
                "slower than 1 thread (%s): %s\n", fixed_detail.c_str(), verdict(within));
    if (!peer_missing.empty())
        std::printf("goal (b), with the spinner, not measured: %s\n", peer_missing.c_str());
    else
        std::printf("goal (b), with the spinner: the default ahead of the PyTorch peer under the same load (%s): %s\n",
                    peer_detail.c_str(), verdict(ahead));
    std::printf("(%.0f s)\n", seconds_since(start));
    return 0;
}
