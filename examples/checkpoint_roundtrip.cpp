// Writes a small model's checkpoint (safetensors) and a JSON dump of the same values, for
// scripts/check_safetensors.py to compare in Python:
//   build/examples/checkpoint_roundtrip out.safetensors out.json
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "models/checkpoint.h"
#include "models/layers.h"

using namespace tapegrad;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s OUT.safetensors OUT.json\n", argv[0]);
        return 2;
    }
    Generator gen(1);
    Linear layer(3, 4, gen);
    save_checkpoint(argv[1], layer);
    nlohmann::json expected;
    for (auto& [name, t] : layer.named_parameters())
        expected[name] = {{"shape", t.shape()}, {"values", t.to_vector<float>()}};
    std::ofstream(argv[2]) << expected.dump();
    std::printf("wrote %s and %s\n", argv[1], argv[2]);
    return 0;
}
