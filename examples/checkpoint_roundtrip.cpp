// Writes a small model's checkpoint (safetensors) and a JSON dump of the same values, for
// scripts/check_safetensors.py to compare in Python:
//   build/examples/checkpoint_roundtrip out.safetensors out.json
#include <cstdio>
#include <fstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "models/checkpoint.h"
#include "models/layers.h"

using namespace tapegrad;

int main(int argc, char** argv) {
    CLI::App app{"Writes a Linear(3, 4) as a safetensors checkpoint and the same values as JSON"};
    std::string checkpoint, json;
    app.add_option("checkpoint", checkpoint, "the safetensors file to write")->required();
    app.add_option("json", json, "the JSON file to write")->required();
    CLI11_PARSE(app, argc, argv);
    Generator gen(1);
    Linear layer(3, 4, gen);
    save_checkpoint(checkpoint, layer);
    nlohmann::json expected;
    for (auto& [name, t] : layer.named_parameters())
        expected[name] = {{"shape", t.shape()}, {"values", t.to_vector<float>()}};
    std::ofstream(json) << expected.dump();
    std::printf("wrote %s and %s\n", checkpoint.c_str(), json.c_str());
    return 0;
}
