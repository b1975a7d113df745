// The PyTorch peer of the benchmarks: scripts/torch_peer.py runs the same train steps in PyTorch
// (CPU, float32, 2 threads) in the same run, so that tapegrad's figures can be printed beside
// PyTorch's. The interpreter is $TAPEGRAD_PYTHON, else .venv/bin/python (made by
// scripts/setup-torch.sh); the peer is optional and skipped, saying so, when it cannot import torch.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace tapegrad::bench {

struct TorchPeer {
    std::string python;                // the interpreter
    bool installed = false;            // `python -c "import torch"` works
    std::map<std::string, double> ms;  // NAME -> ms per train step, from the script's "NAME ms" lines
    std::vector<std::string> notes;    // the script's "# ..." lines (torch version, threads)
};

// Runs `scripts/torch_peer.py args` (from the repository root, as `make bench` does).
inline TorchPeer run_torch_peer(const std::string& args) {
    TorchPeer peer;
    const char* python = std::getenv("TAPEGRAD_PYTHON");
    peer.python = python ? python : ".venv/bin/python";
    peer.installed = std::system((peer.python + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
    if (!peer.installed) return peer;
    FILE* pipe = popen((peer.python + " scripts/torch_peer.py " + args).c_str(), "r");
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
// speed drifts, so that tapegrad is compared with PyTorch at its best, not at a slow moment).
inline TorchPeer run_torch_peer_twice(const std::string& args) {
    TorchPeer first = run_torch_peer(args);
    if (first.ms.empty()) return first;
    TorchPeer second = run_torch_peer(args);
    for (auto& [name, ms] : second.ms) {
        auto it = first.ms.find(name);
        if (it == first.ms.end() || ms < it->second) first.ms[name] = ms;
    }
    first.notes.push_back("# each PyTorch figure: the faster of two runs of scripts/torch_peer.py");
    return first;
}

// A plain sentence when the peer gave no figures; empty when it did.
inline std::string torch_peer_missing(const TorchPeer& peer) {
    if (!peer.installed)
        return "PyTorch peer not run: " + peer.python +
               " cannot import torch (scripts/setup-torch.sh makes .venv/ with it; or set TAPEGRAD_PYTHON)";
    if (peer.ms.empty()) return "PyTorch peer failed: " + peer.python + " scripts/torch_peer.py printed no figures";
    return "";
}

// "2.10x faster" / "1.30x slower": tapegrad's time against PyTorch's.
inline std::string versus_torch(double tapegrad_ms, double torch_ms) {
    char text[32];
    if (tapegrad_ms <= torch_ms) std::snprintf(text, sizeof text, "%.2fx faster", torch_ms / tapegrad_ms);
    else std::snprintf(text, sizeof text, "%.2fx slower", tapegrad_ms / torch_ms);
    return text;
}

}  // namespace tapegrad::bench
