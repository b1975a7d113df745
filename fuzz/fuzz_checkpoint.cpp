// Fuzzes the safetensors reader (models/checkpoint.h): the input is a checkpoint file's bytes.
// load_metadata and load_tensors read any file; load_checkpoint also matches it against a small
// model and its Adam state (the seed is that model's real checkpoint, so mutations get past the
// header into the matching). A tapegrad::Error is the right answer to a bad file; any other
// exception, a crash or a sanitizer report is a finding.
#include "core/error.h"
#include "fuzz/harness.h"
#include "models/checkpoint.h"

using namespace tapegrad;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static fuzz::CheckpointModel model;
    const std::string path = (fuzz::scratch_dir() / "checkpoint.safetensors").string();
    fuzz::write_bytes(path, data, size);
    try {
        load_metadata(path);
    } catch (const Error&) {
    }
    try {
        load_tensors(path);
    } catch (const Error&) {
    }
    try {
        load_checkpoint(path, model.layer, &model.optimizer);
    } catch (const Error&) {
    }
    return 0;
}
