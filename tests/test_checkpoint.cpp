// The safetensors reader refuses every file the format does not allow, with an Error that names
// the file and the offending part. Each test writes the file's bytes by hand:
//   [8 bytes: header length, little-endian][JSON header][data]
#define BOOST_TEST_MODULE checkpoint
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>

#include "models/checkpoint.h"
#include "models/layers.h"
#include "tests/test_files.h"
#include "tests/test_helpers.h"

using namespace tapegrad;
namespace fs = std::filesystem;

namespace {

struct TempDir : tapegrad::testing::TempDir {
    explicit TempDir(const std::string& name) : tapegrad::testing::TempDir("tapegrad_checkpoint", name) {}
};

std::string length_prefix(uint64_t length) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((length >> (8 * i)) & 0xff);
    return bytes;
}

// Writes `bytes` to dir/name and returns the path.
std::string write_bytes(const TempDir& dir, const std::string& name, const std::string& bytes) {
    std::string path = (dir.path / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

// A file whose header is `header` (its true length in front) followed by `data`.
std::string write_safetensors(const TempDir& dir, const std::string& name, const std::string& header,
                              const std::string& data = "") {
    return write_bytes(dir, name, length_prefix(header.size()) + header + data);
}

// One header entry: "name": {"dtype": ..., "shape": ..., "data_offsets": ...}, the JSON given verbatim.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

std::string float_bytes(std::vector<float> values) {
    return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpoint_reads_a_hand_written_file) {
    TempDir dir("valid");
    // Keys out of data order, an empty tensor, metadata, and the header padded with spaces.
    std::string header = "{" + entry("b", "\"I64\"", "[1]", "[8,16]") + "," + entry("a", "\"F32\"", "[2]", "[0,8]") + "," +
                         entry("empty", "\"F64\"", "[0,3]", "[16,16]") + ",\"__metadata__\":{\"k\":\"v\"}}   ";
    int64_t seven = 7;
    std::string data = float_bytes({1.5f, -2.0f}) + std::string(reinterpret_cast<const char*>(&seven), 8);
    std::string path = write_safetensors(dir, "valid.safetensors", header, data);
    std::map<std::string, Tensor> tensors = load_tensors(path);
    BOOST_REQUIRE_EQUAL(tensors.size(), 3u);
    BOOST_CHECK(tensors.at("a").to_vector<float>() == (std::vector<float>{1.5f, -2.0f}));
    BOOST_CHECK(tensors.at("b").to_vector<int64_t>() == (std::vector<int64_t>{7}));
    BOOST_CHECK(tensors.at("empty").shape() == (Shape{0, 3}));
    BOOST_CHECK(load_metadata(path) == (std::map<std::string, std::string>{{"k", "v"}}));

    // save_tensors writes what load_tensors reads back.
    std::string saved = (dir.path / "saved.safetensors").string();
    save_tensors(saved, {{"x", Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3})}, {"none", Tensor::zeros({0})}},
                 {{"note", "hi"}});
    std::map<std::string, Tensor> back = load_tensors(saved);
    BOOST_CHECK(back.at("x").to_vector<double>() == (std::vector<double>{1, 2, 3, 4, 5, 6}));
    BOOST_CHECK(back.at("none").shape() == (Shape{0}));
    BOOST_CHECK_EQUAL(load_metadata(saved).at("note"), "hi");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_duplicate_keys) {
    TempDir dir("duplicates");
    std::string path = write_safetensors(dir, "twice.safetensors",
        "{" + entry("w", "\"F32\"", "[1]", "[0,4]") + "," + entry("w", "\"F32\"", "[1]", "[4,8]") + "}", float_bytes({1, 2}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "key 'w' twice");
    path = write_safetensors(dir, "field_twice.safetensors",
        "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,4]}}", float_bytes({1}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "key 'dtype' twice");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_overlapping_data_offsets) {
    TempDir dir("overlap");
    std::string path = write_safetensors(dir, "overlap.safetensors",
        "{" + entry("a", "\"F32\"", "[2]", "[0,8]") + "," + entry("b", "\"F32\"", "[2]", "[4,12]") + "}", float_bytes({1, 2, 3}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "tensor 'b' data_offsets [4, 12] overlap tensor 'a' data_offsets [0, 8]");
    path = write_safetensors(dir, "same.safetensors",
        "{" + entry("a", "\"F32\"", "[1]", "[0,4]") + "," + entry("b", "\"F32\"", "[1]", "[0,4]") + "}", float_bytes({1}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "overlap");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_holes_and_trailing_bytes) {
    TempDir dir("holes");
    std::string path = write_safetensors(dir, "late_start.safetensors", "{" + entry("a", "\"F32\"", "[1]", "[4,8]") + "}",
                                         float_bytes({1, 2}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "data bytes [0, 4) belong to no tensor", "'a'");
    path = write_safetensors(dir, "gap.safetensors",
        "{" + entry("a", "\"F32\"", "[1]", "[0,4]") + "," + entry("b", "\"F32\"", "[1]", "[8,12]") + "}", float_bytes({1, 2, 3}));
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "data bytes [4, 8) belong to no tensor", "'b'");
    path = write_safetensors(dir, "trailing.safetensors", "{" + entry("a", "\"F32\"", "[1]", "[0,4]") + "}", float_bytes({1}) + "xy");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "2 trailing bytes");
    path = write_safetensors(dir, "no_tensors.safetensors", "{}", "xyz");
    TAPEGRAD_CHECK_ERROR(load_metadata(path), path.c_str(), "3 trailing bytes");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_offsets_that_disagree_with_the_shape) {
    TempDir dir("offsets");
    std::string data = float_bytes({1, 2});
    auto check = [&](const std::string& name, const std::string& shape, const std::string& offsets, const char* what) {
        std::string path = write_safetensors(dir, name, "{" + entry("w", "\"F32\"", shape, offsets) + "}", data);
        TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "tensor 'w'", what);
    };
    check("reversed.safetensors", "[1]", "[8,4]", "[8, 4] that end before they begin");
    check("short.safetensors", "[2]", "[0,4]", "[0, 4], 4 bytes, but shape [2] float32 needs 2 x 4 bytes");
    check("one_offset.safetensors", "[2]", "[0]", "data_offsets [0] (expected [begin, end]");
    check("float_offset.safetensors", "[2]", "[0,8.0]", "data_offsets [0,8.0]");
    check("negative_offset.safetensors", "[2]", "[-8,0]", "data_offsets [-8,0]");
    check("string_offset.safetensors", "[2]", "[\"0\",\"8\"]", "data_offsets [\"0\",\"8\"]");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_extents_that_are_not_non_negative_integers) {
    TempDir dir("extents");
    auto check = [&](const std::string& name, const std::string& shape, const std::string& data, const char* what) {
        std::string path = write_safetensors(
            dir, name, "{" + entry("w", "\"F32\"", shape, "[0," + std::to_string(data.size()) + "]") + "}", data);
        TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "tensor 'w'", what);
    };
    check("fraction.safetensors", "[4.7]", float_bytes({1, 2, 3, 4}), "extent 4.7");  // not read as 4
    check("string.safetensors", "[\"2\"]", float_bytes({1, 2}), "extent \"2\"");
    check("negative.safetensors", "[-1]", "", "extent -1");
    check("beyond_int64.safetensors", "[9223372036854775808]", "", "extent 9223372036854775808");
    check("overflow.safetensors", "[4294967296,4294967296]", "", "more elements than 64 bits count");
    check("not_array.safetensors", "3", float_bytes({1, 2, 3}), "shape 3 (expected an array");
    // Nested deeper than a recursive printer's stack would survive.
    check("deep.safetensors", "[" + std::string(1000000, '[') + std::string(1000000, ']') + "]", "", "extent array");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_bad_dtypes_and_entries) {
    TempDir dir("dtypes");
    std::string data = float_bytes({1});
    auto check = [&](const std::string& name, const std::string& header, const char* what) {
        std::string path = write_safetensors(dir, name, header, data);
        TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "tensor 'w'", what);
    };
    check("f16.safetensors", "{" + entry("w", "\"F16\"", "[2]", "[0,4]") + "}", "dtype \"F16\" (expected");
    check("number.safetensors", "{" + entry("w", "5", "[1]", "[0,4]") + "}", "dtype 5 (expected");
    check("no_dtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "has no 'dtype'");
    check("extra_field.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}",
          "unknown field 'x'");
    check("not_object.safetensors", "{\"w\":[0,4]}", "is a array (expected an object)");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_a_bad_header_frame) {
    TempDir dir("frame");
    std::string path = write_bytes(dir, "long.safetensors", length_prefix(1000) + "{}");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "header length 1000 exceeds the 2 bytes after it");
    path = write_bytes(dir, "huge.safetensors", length_prefix(uint64_t(1) << 63) + "{}");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "exceeds the format's limit of 100000000 bytes");
    for (const std::string& header : {std::string("[1,2]"), std::string(" {}"), std::string("{}\n"), std::string("")}) {
        path = write_safetensors(dir, "not_object.safetensors", header);
        TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "not a JSON object");
    }
    path = write_safetensors(dir, "bad_json.safetensors", "{\"w\":}");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "corrupt JSON header");
}

BOOST_AUTO_TEST_CASE(checkpoint_rejects_metadata_that_is_not_strings) {
    TempDir dir("metadata");
    std::string path = write_safetensors(dir, "string.safetensors", "{\"__metadata__\":\"x\"}");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "__metadata__ is a string (expected an object of strings)");
    path = write_safetensors(dir, "number.safetensors", "{\"__metadata__\":{\"step\":5}}");
    TAPEGRAD_CHECK_ERROR(load_metadata(path), path.c_str(), "__metadata__ 'step' is the number 5");
    path = write_safetensors(dir, "nested.safetensors", "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}");
    TAPEGRAD_CHECK_ERROR(load_tensors(path), path.c_str(), "__metadata__ 'a' is the object");
}

BOOST_AUTO_TEST_CASE(checkpoint_optimizer_step_is_checked) {
    TempDir dir("step");
    Generator gen(3);
    Linear layer(2, 1, gen);
    SGD sgd(layer.parameters());
    sgd.set_steps(5);
    auto with_step = [&](const std::string& name, const Tensor& step) {
        auto tensors = layer.named_parameters();
        for (auto& [state_name, slot] : sgd.state()) tensors.emplace_back("optimizer." + state_name, *slot);
        tensors.emplace_back("optimizer.step", step);
        std::string path = (dir.path / name).string();
        save_tensors(path, tensors);
        return path;
    };
    std::string path = with_step("empty.safetensors", Tensor::zeros({0}, DType::Int64));
    TAPEGRAD_CHECK_ERROR(load_checkpoint(path, layer, &sgd), path.c_str(), "'optimizer.step' is int64 [0] (expected int64 [1])");
    path = with_step("float.safetensors", Tensor::zeros({1}));
    TAPEGRAD_CHECK_ERROR(load_checkpoint(path, layer, &sgd), path.c_str(), "'optimizer.step' is float32 [1]");
    path = with_step("negative.safetensors", Tensor::from_vector(std::vector<int64_t>{-1}, {1}));
    TAPEGRAD_CHECK_ERROR(load_checkpoint(path, layer, &sgd), path.c_str(), "'optimizer.step' is -1 (expected");
    path = with_step("huge.safetensors", Tensor::from_vector(std::vector<int64_t>{INT64_MAX}, {1}));
    TAPEGRAD_CHECK_ERROR(load_checkpoint(path, layer, &sgd), path.c_str(), "'optimizer.step' is 9223372036854775807");
    BOOST_CHECK_EQUAL(sgd.steps(), 5);  // a refused file changes nothing
    path = with_step("fine.safetensors", Tensor::from_vector(std::vector<int64_t>{int64_t(1) << 53}, {1}));
    load_checkpoint(path, layer, &sgd);
    BOOST_CHECK_EQUAL(sgd.steps(), int64_t(1) << 53);
}

// A training checkpoint loads into the model alone (to predict): its optimizer state is skipped,
// while a tensor that is neither the model's nor optimizer state is still refused.
BOOST_AUTO_TEST_CASE(checkpoint_loads_the_model_without_its_optimizer) {
    TempDir dir("model_only");
    Generator gen(3);
    Linear trained(2, 1, gen);
    Adam adam(trained.parameters());
    for (Tensor p : trained.parameters()) p.set_grad(Tensor::ones(p.shape()));
    adam.step();  // optimizer state worth saving
    const std::string path = (dir.path / "run.safetensors").string();
    save_checkpoint(path, trained, &adam);
    Linear fresh(2, 1, gen);
    load_checkpoint(path, fresh);
    BOOST_CHECK(fresh.parameters()[0].to_double_vector() == trained.parameters()[0].to_double_vector());
    BOOST_CHECK(fresh.parameters()[1].to_double_vector() == trained.parameters()[1].to_double_vector());

    auto tensors = trained.named_parameters();
    tensors.emplace_back("extra", Tensor::zeros({1}));
    save_tensors(path, tensors);
    TAPEGRAD_CHECK_ERROR(load_checkpoint(path, fresh), "unexpected keys", "'extra'");
}

BOOST_AUTO_TEST_CASE(checkpoint_unreadable_paths_name_the_file) {
    TempDir dir("paths");
    std::string folder = dir.path.string();
    TAPEGRAD_CHECK_ERROR(load_tensors(folder), "load_tensors", "cannot read", folder.c_str());
    TAPEGRAD_CHECK_ERROR(load_metadata(folder), "load_metadata", "cannot read", folder.c_str());
    std::string missing = (dir.path / "missing.safetensors").string();
    TAPEGRAD_CHECK_ERROR(load_tensors(missing), "cannot open", missing.c_str());
}

BOOST_AUTO_TEST_CASE(save_tensors_reserves_the_metadata_name) {
    TempDir dir("reserved");
    std::string path = (dir.path / "reserved.safetensors").string();
    TAPEGRAD_CHECK_ERROR(save_tensors(path, {{"__metadata__", Tensor::zeros({1})}}), "save_tensors", path.c_str(),
                         "'__metadata__' is reserved");
    BOOST_CHECK(!fs::exists(path));
}

// What the fuzzer found (fuzz/regressions/fuzz_checkpoint/, replayed by every `make fuzz` too):
// an extent and a data offset of 1e30 (a double cast to an integer type out of its range: UB)
// and an optimizer.step of shape [0] (std::out_of_range) are each refused, naming the file, by
// the same calls the harness makes.
BOOST_AUTO_TEST_CASE(checkpoint_fuzz_findings_are_refused) {
    Generator gen(1);
    Linear layer(2, 3, gen);  // fuzz/harness.h's model
    Adam optimizer(layer.parameters());
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator("fuzz/regressions/fuzz_checkpoint")) {
        const std::string path = entry.path().string();
        BOOST_TEST_CONTEXT(path) {
            ++files;
            bool refused = false;
            for (const auto& load : std::vector<std::function<void()>>{
                     [&] { load_metadata(path); }, [&] { load_tensors(path); }, [&] { load_checkpoint(path, layer, &optimizer); }}) {
                try {
                    load();
                } catch (const Error& e) {
                    refused = true;
                    BOOST_CHECK_MESSAGE(std::string(e.what()).find(path) != std::string::npos, e.what());
                }
            }
            BOOST_CHECK(refused);
        }
    }
    BOOST_CHECK_GE(files, 3);
}
