// What the harnesses and make_corpus share: the model whose checkpoint fuzz_checkpoint loads
// (make_corpus saves the seed from the same model), and a scratch folder of this process for the
// files the readers take.
#pragma once
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "models/layers.h"
#include "models/optim.h"

namespace tapegrad::fuzz {

// Linear(2, 3) with Adam: weight, bias, their two moment tensors each, and optimizer.step.
struct CheckpointModel {
    Generator gen{1};
    Linear layer{2, 3, gen};
    Adam optimizer{layer.parameters()};
};

// A folder under the system's temporary one, made on first use and removed at exit.
inline const std::filesystem::path& scratch_dir() {
    static const std::filesystem::path dir = [] {
        std::filesystem::path d = std::filesystem::temp_directory_path() / ("tapegrad-fuzz-" + std::to_string(getpid()));
        std::filesystem::create_directories(d);
        std::atexit([] { std::filesystem::remove_all(scratch_dir()); });
        return d;
    }();
    return dir;
}

// `text` as one gzip member (zlib's deflate with the gzip wrapper: windowBits 15 + 16).
inline std::string gzip(const std::string& text) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::string out(deflateBound(&z, uLong(text.size())) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z.avail_in = uInt(text.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = uInt(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

inline void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
}

}  // namespace tapegrad::fuzz
