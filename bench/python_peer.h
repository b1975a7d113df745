// The Python peers of the benchmarks: a script runs the same train steps in another framework (CPU,
// float32, the same thread count) in the same run, so that tapegrad's figures can be printed beside
// its. Two peers: PyTorch (scripts/torch_peer.py, for bench_cells and bench_pr_lstm) and JAX
// (scripts/jax_pr_lstm.py, bench_pr_lstm). Each is optional and skipped, saying so, when its
// interpreter cannot import the framework. A script prints "NAME ms" lines (ms per train step) and
// "# ..." note lines (versions, threads).
#pragma once
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace tapegrad::bench {

// Which peer: its name in messages, the variable naming its interpreter (else .venv/bin/python),
// the modules it must import, its script and how to install it.
struct PeerKind {
    std::string name, python_variable, imports, script, setup;
};

inline const PeerKind torch_peer_kind = {"PyTorch", "TAPEGRAD_PYTHON", "torch", "scripts/torch_peer.py",
                                         "scripts/setup-torch.sh makes .venv/ with it"};
inline const PeerKind jax_peer_kind = {"JAX", "TAPEGRAD_JAX_PYTHON", "jax, haiku", "scripts/jax_pr_lstm.py",
                                       "scripts/setup-jax.sh adds jax and dm-haiku to .venv/"};

struct PythonPeer {
    PeerKind kind;
    std::string python;                // the interpreter
    bool installed = false;            // `python -c "import <imports>"` works
    std::map<std::string, double> ms;  // NAME -> ms per train step, from the script's "NAME ms" lines
    std::vector<std::string> notes;    // the script's "# ..." lines
};

// Runs `<script> args` (from the repository root, as `make bench` does).
inline PythonPeer run_peer(const PeerKind& kind, const std::string& args) {
    PythonPeer peer;
    peer.kind = kind;
    const char* python = std::getenv(kind.python_variable.c_str());
    peer.python = python ? python : ".venv/bin/python";
    peer.installed =
        std::system((peer.python + " -c 'import " + kind.imports + "' >/dev/null 2>&1").c_str()) == 0;
    if (!peer.installed) return peer;
    FILE* pipe = popen((peer.python + " " + kind.script + " " + args).c_str(), "r");
    if (!pipe) return peer;
    char line[512], name[64];
    double value;
    while (std::fgets(line, sizeof line, pipe)) {
        std::string text(line);
        if (!text.empty() && text.back() == '\n') text.pop_back();
        if (text.rfind("#", 0) == 0) peer.notes.push_back(text);
        else if (std::sscanf(line, "%63s %lf", name, &value) == 2) peer.ms[name] = value;
    }
    pclose(pipe);
    return peer;
}

// Two runs of the peer merged: each figure is the faster of the two (on a shared machine whose
// speed drifts, so that tapegrad is compared with the peer at its best, not at a slow moment).
inline PythonPeer run_peer_twice(const PeerKind& kind, const std::string& args) {
    PythonPeer first = run_peer(kind, args);
    if (first.ms.empty()) return first;
    PythonPeer second = run_peer(kind, args);
    for (auto& [name, ms] : second.ms) {
        auto it = first.ms.find(name);
        if (it == first.ms.end() || ms < it->second) first.ms[name] = ms;
    }
    first.notes.push_back("# each " + kind.name + " figure: the faster of two runs of " + kind.script);
    return first;
}

// A plain sentence when the peer gave no figures; empty when it did.
inline std::string peer_missing(const PythonPeer& peer) {
    const PeerKind& k = peer.kind;
    if (!peer.installed)
        return k.name + " peer not run: " + peer.python + " cannot import " + k.imports + " (" + k.setup + "; or set " +
               k.python_variable + ")";
    if (peer.ms.empty()) return k.name + " peer failed: " + peer.python + " " + k.script + " printed no figures";
    return "";
}

// "2.10x faster" / "1.30x slower": tapegrad's time against the peer's.
inline std::string versus_peer(double tapegrad_ms, double peer_ms) {
    char text[32];
    if (tapegrad_ms <= peer_ms) std::snprintf(text, sizeof text, "%.2fx faster", peer_ms / tapegrad_ms);
    else std::snprintf(text, sizeof text, "%.2fx slower", tapegrad_ms / peer_ms);
    return text;
}

}  // namespace tapegrad::bench
