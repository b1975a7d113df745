#include "checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "../core/atomic_file.h"

namespace tapegrad {

namespace {
const char* safetensors_dtype(DType t) {
    switch (t) {
        case DType::Float32: return "F32";
        case DType::Float64: return "F64";
        case DType::Int64: return "I64";
    }
    return "?";
}

}  // namespace

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
    nlohmann::json header;
    header["__metadata__"] = metadata;
    size_t offset = 0;
    std::vector<std::vector<char>> blobs;
    for (const auto& [name, t] : tensors) {
        if (name == "__metadata__")
            fail("save_tensors", "tensor name '__metadata__' is reserved for the header's metadata (writing {})", path);
        if (header.contains(name)) fail("save_tensors", "tensor name '{}' appears twice (writing {})", name, path);
        size_t bytes = size_t(t.numel()) * dtype_size(t.dtype());
        std::vector<char> blob(bytes);
        if (bytes > 0)  // an empty tensor has no storage, and memcpy from null is undefined even for 0 bytes
            backend_for(t.device()).copy_to_host(blob.data(), t.raw_data(), bytes);  // x86-64: already little-endian
        header[name] = {{"dtype", safetensors_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        blobs.push_back(std::move(blob));
    }
    std::string json = header.dump();
    json.append((8 - json.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
    uint64_t length = json.size();
    char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = char((length >> (8 * i)) & 0xff);

    std::vector<std::string_view> parts = {std::string_view(length_bytes, 8), json};
    for (const auto& blob : blobs) parts.emplace_back(blob.data(), blob.size());
    write_file_atomically(path, parts, "save_tensors");
}

namespace {

// One tensor of a file, as its header entry describes it.
struct TensorEntry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;  // data_offsets: the tensor's bytes are [begin, end) of the data section
};

// A checked safetensors file: its bytes, where the data section starts, the tensors in the order of
// their data, and the "__metadata__" strings.
struct SafetensorsFile {
    std::vector<char> bytes;
    size_t data_start;
    std::vector<TensorEntry> tensors;
    std::map<std::string, std::string> metadata;
};

// The safetensors reference implementation refuses headers over 100 MB (against denial of service).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// Steps beyond 2^53 are no longer exact in the double that Adam's bias correction uses.
constexpr int64_t kMaxOptimizerStep = int64_t(1) << 53;

std::vector<char> read_whole_file(const char* op, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(op, "cannot open {}", path);
    std::vector<char> bytes;
    try {  // a directory opens, then fails on the first read
        bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const std::ios_base::failure& e) {
        fail(op, "cannot read {}: {}", path, e.what());
    }
    return bytes;
}

// The JSON header, refusing a key that appears twice in one object (the format forbids duplicate
// keys; nlohmann::json on its own would silently keep the last one).
nlohmann::json parse_header(const char* op, const std::string& path, const char* begin, const char* end) {
    using Event = nlohmann::json::parse_event_t;
    std::vector<std::set<std::string>> keys_of_open_objects;
    auto refuse_duplicates = [&](int, Event event, nlohmann::json& parsed) {
        if (event == Event::object_start) keys_of_open_objects.emplace_back();
        if (event == Event::object_end) keys_of_open_objects.pop_back();
        if (event == Event::key && !keys_of_open_objects.back().insert(parsed.get<std::string>()).second)
            fail(op, "{}: the header has the key '{}' twice in one object (duplicate keys are not allowed)", path,
                 parsed.get<std::string>());
        return true;
    };
    try {
        return nlohmann::json::parse(begin, end, refuse_duplicates);
    } catch (const nlohmann::json::exception& e) {
        fail(op, "{} has a corrupt JSON header: {}", path, e.what());
    }
}

// A header value for an error message: as written if it is a scalar or an array of scalars, else
// by its type (dump() recurses, and a hostile header can nest deeper than the stack).
std::string describe(const nlohmann::json& value) {
    bool flat = value.is_primitive() ||
                (value.is_array() && std::all_of(value.begin(), value.end(), [](const nlohmann::json& v) { return v.is_primitive(); }));
    return flat ? value.dump() : value.type_name();
}

// "__metadata__" is an object whose values are all strings.
std::map<std::string, std::string> parse_metadata(const char* op, const std::string& path, const nlohmann::json& metadata) {
    if (!metadata.is_object()) fail(op, "{}: __metadata__ is a {} (expected an object of strings)", path, metadata.type_name());
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : metadata.items()) {
        if (!value.is_string())
            fail(op, "{}: __metadata__ '{}' is the {} {:.40} (expected a string)", path, key, value.type_name(), describe(value));
        out[key] = value.get<std::string>();
    }
    return out;
}

// "dtype" is one of the format's type names that tapegrad has.
DType parse_dtype(const char* op, const std::string& path, const std::string& name, const nlohmann::json& dtype) {
    if (dtype == "F32") return DType::Float32;
    if (dtype == "F64") return DType::Float64;
    if (dtype == "I64") return DType::Int64;
    fail(op, "{}: tensor '{}' has dtype {:.40} (expected \"F32\", \"F64\" or \"I64\")", path, name, describe(dtype));
}

// "shape" is an array of non-negative integers (JSON integers: 4.7 is not 4, "4" is not 4) whose
// product fits in 64 bits.
Shape parse_shape(const char* op, const std::string& path, const std::string& name, const nlohmann::json& shape) {
    if (!shape.is_array()) fail(op, "{}: tensor '{}' has shape {:.40} (expected an array of integers)", path, name, describe(shape));
    Shape out;
    for (const nlohmann::json& extent : shape) {
        if (!extent.is_number_unsigned() || extent.get<uint64_t>() > uint64_t(INT64_MAX))
            fail(op, "{}: tensor '{}' has the extent {:.40} in shape {:.80} (expected an integer in [0, 2^63))", path, name,
                 describe(extent), describe(shape));
        out.push_back(extent.get<int64_t>());
    }
    if (!numel_fits(out)) fail(op, "{}: tensor '{}' has shape {}, more elements than 64 bits count", path, name, to_string(out));
    return out;
}

// "data_offsets" is [begin, end], two integers with begin <= end.
std::pair<uint64_t, uint64_t> parse_offsets(const char* op, const std::string& path, const std::string& name,
                                            const nlohmann::json& offsets) {
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
        fail(op, "{}: tensor '{}' has data_offsets {:.80} (expected [begin, end], two non-negative integers)", path, name,
             describe(offsets));
    uint64_t begin = offsets[0].get<uint64_t>(), end = offsets[1].get<uint64_t>();
    if (begin > end) fail(op, "{}: tensor '{}' has data_offsets [{}, {}] that end before they begin", path, name, begin, end);
    return {begin, end};
}

// An entry is an object with exactly "dtype", "shape" and "data_offsets", whose offsets span
// numel(shape) * dtype size bytes.
TensorEntry parse_entry(const char* op, const std::string& path, const std::string& name, const nlohmann::json& entry) {
    if (!entry.is_object()) fail(op, "{}: tensor '{}' is a {} (expected an object)", path, name, entry.type_name());
    for (const auto& field : entry.items())
        if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets")
            fail(op, "{}: tensor '{}' has the unknown field '{}' (expected dtype, shape and data_offsets)", path, name, field.key());
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!entry.contains(field)) fail(op, "{}: tensor '{}' has no '{}'", path, name, field);
    TensorEntry t{name, parse_dtype(op, path, name, entry["dtype"]), parse_shape(op, path, name, entry["shape"]), 0, 0};
    std::tie(t.begin, t.end) = parse_offsets(op, path, name, entry["data_offsets"]);
    uint64_t bytes = t.end - t.begin, element = dtype_size(t.dtype);
    if (bytes % element != 0 || bytes / element != uint64_t(numel(t.shape)))  // bytes == numel * element, without overflow
        fail(op, "{}: tensor '{}' has data_offsets [{}, {}], {} bytes, but shape {} {} needs {} x {} bytes", path, name,
             t.begin, t.end, bytes, to_string(t.shape), to_string(t.dtype), numel(t.shape), element);
    return t;
}

// The tensors' bytes tile the data section exactly: sorted by offset, the first begins at 0, each
// begins where the one before ended and the last ends at the end of the file (no overlap, no hole,
// no trailing bytes). Sorts `tensors` by offset.
void check_tiling(const char* op, const std::string& path, std::vector<TensorEntry>& tensors, uint64_t data_size) {
    std::sort(tensors.begin(), tensors.end(),
              [](const TensorEntry& a, const TensorEntry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
    uint64_t covered = 0;  // bytes [0, covered) of the data section belong to the tensors so far
    for (size_t i = 0; i < tensors.size(); ++i) {
        const TensorEntry& t = tensors[i];
        if (t.begin < covered)
            fail(op, "{}: tensor '{}' data_offsets [{}, {}] overlap tensor '{}' data_offsets [{}, {}]", path, t.name, t.begin,
                 t.end, tensors[i - 1].name, tensors[i - 1].begin, tensors[i - 1].end);
        if (t.begin > covered)
            fail(op, "{}: data bytes [{}, {}) belong to no tensor (tensor '{}' has data_offsets [{}, {}])", path, covered,
                 t.begin, t.name, t.begin, t.end);
        covered = t.end;
    }
    if (covered > data_size)
        fail(op, "{} is truncated: tensor '{}' needs data bytes up to {} but the file has {}", path, tensors.back().name,
             covered, data_size);
    if (covered < data_size)
        fail(op, "{}: {} trailing bytes after the tensors' data (data bytes [{}, {}) belong to no tensor)", path,
             data_size - covered, covered, data_size);
}

// Reads and checks a whole file against the format:
//   [8 bytes: N, little-endian u64][N bytes: JSON header, begins with '{', may end with padding
//   spaces (0x20)][data section]
SafetensorsFile read_safetensors(const char* op, const std::string& path) {
    SafetensorsFile f;
    f.bytes = read_whole_file(op, path);
    const std::vector<char>& file = f.bytes;
    if (file.size() < 8) fail(op, "{} is truncated: {} bytes, shorter than the 8-byte header length", path, file.size());
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= uint64_t(uint8_t(file[i])) << (8 * i);
    if (length > kMaxHeaderBytes) fail(op, "{}: header length {} exceeds the format's limit of {} bytes", path, length, kMaxHeaderBytes);
    if (length > file.size() - 8)
        fail(op, "{} is truncated or corrupt: header length {} exceeds the {} bytes after it", path, length, file.size() - 8);
    const char* header_begin = file.data() + 8;
    const char* header_end = header_begin + length;
    while (header_end > header_begin && header_end[-1] == ' ') --header_end;  // the padding
    if (header_end == header_begin || header_begin[0] != '{' || header_end[-1] != '}')
        fail(op, "{} has a corrupt header: not a JSON object from its first byte to the padding", path);
    const nlohmann::json header = parse_header(op, path, header_begin, header_end);
    f.data_start = 8 + length;
    for (const auto& [name, entry] : header.items()) {
        if (name == "__metadata__") f.metadata = parse_metadata(op, path, entry);
        else f.tensors.push_back(parse_entry(op, path, name, entry));
    }
    check_tiling(op, path, f.tensors, file.size() - f.data_start);
    return f;
}

}  // namespace

std::map<std::string, std::string> load_metadata(const std::string& path) {
    return read_safetensors("load_metadata", path).metadata;
}

std::map<std::string, Tensor> load_tensors(const std::string& path) {
    const SafetensorsFile f = read_safetensors("load_tensors", path);
    std::map<std::string, Tensor> out;
    for (const TensorEntry& entry : f.tensors) {
        Tensor t = Tensor::empty(entry.shape, entry.dtype);
        size_t bytes = size_t(entry.end - entry.begin);
        if (bytes > 0) std::memcpy(t.raw_data(), f.bytes.data() + f.data_start + entry.begin, bytes);  // as in save_tensors
        out.emplace(entry.name, t);
    }
    return out;
}

namespace {
std::vector<std::pair<std::string, Tensor*>> checkpoint_slots(Module& model, Optimizer* optimizer) {
    std::vector<std::pair<std::string, Tensor*>> slots;
    for (auto& [name, slot] : model.parameter_slots()) slots.emplace_back(name, slot);
    if (optimizer)
        for (auto& [name, slot] : optimizer->state()) slots.emplace_back("optimizer." + name, slot);
    return slots;
}

// "optimizer.step" is one I64, the optimizer's count of steps: 0 <= step <= 2^53.
int64_t optimizer_step(const std::string& path, const Tensor& step) {
    if (step.dtype() != DType::Int64 || step.shape() != Shape{1})
        fail("load_checkpoint", "{}: 'optimizer.step' is {} {} (expected int64 [1])", path, to_string(step.dtype()),
             to_string(step.shape()));
    int64_t value = step.to_vector<int64_t>()[0];
    if (value < 0 || value > kMaxOptimizerStep)
        fail("load_checkpoint", "{}: 'optimizer.step' is {} (expected a step count in [0, 2^53])", path, value);
    return value;
}
}  // namespace

void save_checkpoint(const std::string& path, const Module& model, Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
    StateDict tensors = model.state_dict();
    if (optimizer) {
        for (auto& [name, slot] : optimizer->state()) tensors.emplace_back("optimizer." + name, *slot);
        tensors.emplace_back("optimizer.step", Tensor::from_vector(std::vector<int64_t>{optimizer->steps()}, {1}));
    }
    std::map<std::string, std::string> all = metadata;
    all["format"] = "tapegrad";
    save_tensors(path, tensors, all);
}

void load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
    StateDict values;  // the file's tensors, less the optimizer's step count
    std::optional<int64_t> steps;
    for (auto& [name, t] : load_tensors(path)) {
        // Without an optimizer, the file's optimizer state is left unread (a model loaded to predict).
        if (!optimizer && name.rfind("optimizer.", 0) == 0) continue;
        if (optimizer && name == "optimizer.step") steps = optimizer_step(path, t);
        else values.emplace_back(name, t);
    }
    if (optimizer && !steps) fail("load_checkpoint", "{} has no optimizer state ('optimizer.step' is missing)", path);
    // Nothing has changed yet: load_into_slots checks the whole file before it copies.
    load_into_slots("load_checkpoint", path, checkpoint_slots(model, optimizer), values, /*strict=*/true);
    if (optimizer) optimizer->set_steps(*steps);
}

}  // namespace tapegrad
