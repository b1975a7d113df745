#include "models/checkpoint.h"

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "autograd/tape.h"
#include "core/atomic_file.h"
#include "ops/shape_ops.h"

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

bool parse_dtype(const std::string& s, DType& out) {
    if (s == "F32") out = DType::Float32;
    else if (s == "F64") out = DType::Float64;
    else if (s == "I64") out = DType::Int64;
    else return false;
    return true;
}

}  // namespace

void save_tensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                  const std::map<std::string, std::string>& metadata) {
    nlohmann::json header;
    header["__metadata__"] = metadata;
    size_t offset = 0;
    std::vector<std::vector<char>> blobs;
    for (const auto& [name, t] : tensors) {
        if (header.contains(name)) fail("save_tensors", "tensor name '{}' appears twice (writing {})", name, path);
        size_t bytes = size_t(t.numel()) * dtype_size(t.dtype());
        std::vector<char> blob(bytes);
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

// A safetensors file's bytes and its parsed JSON header; the data section starts at data_start.
struct SafetensorsFile {
    std::vector<char> bytes;
    nlohmann::json header;
    size_t data_start;
};

SafetensorsFile read_safetensors(const char* op, const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(op, "cannot open {}", path);
    SafetensorsFile f;
    f.bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const std::vector<char>& file = f.bytes;
    if (file.size() < 8) fail(op, "{} is truncated: {} bytes, shorter than the 8-byte header length", path, file.size());
    uint64_t length = 0;
    for (int i = 0; i < 8; ++i) length |= uint64_t(uint8_t(file[i])) << (8 * i);
    if (length > file.size() - 8)
        fail(op, "{} is truncated or corrupt: header length {} exceeds the {} bytes after it", path, length, file.size() - 8);
    try {
        f.header = nlohmann::json::parse(file.begin() + 8, file.begin() + 8 + length);
    } catch (const nlohmann::json::exception& e) {
        fail(op, "{} has a corrupt JSON header: {}", path, e.what());
    }
    if (!f.header.is_object()) fail(op, "{} has a corrupt header: not a JSON object", path);
    f.data_start = 8 + length;
    return f;
}

}  // namespace

std::map<std::string, std::string> load_metadata(const std::string& path) {
    const SafetensorsFile f = read_safetensors("load_metadata", path);
    std::map<std::string, std::string> out;
    if (!f.header.contains("__metadata__")) return out;
    try {
        out = f.header.at("__metadata__").get<std::map<std::string, std::string>>();
    } catch (const nlohmann::json::exception& e) {
        fail("load_metadata", "{}: __metadata__ is not a map of strings: {}", path, e.what());
    }
    return out;
}

std::map<std::string, Tensor> load_tensors(const std::string& path) {
    const char* op = "load_tensors";
    const SafetensorsFile f = read_safetensors(op, path);
    const std::vector<char>& file = f.bytes;
    const nlohmann::json& header = f.header;
    const size_t data_start = f.data_start, data_size = file.size() - data_start;
    std::map<std::string, Tensor> out;
    for (auto& [name, entry] : header.items()) {
        if (name == "__metadata__") continue;
        DType dtype;
        try {
            if (!parse_dtype(entry.at("dtype").get<std::string>(), dtype))
                fail(op, "{}: tensor '{}' has unsupported dtype {} (expected F32, F64 or I64)", path, name,
                     entry.at("dtype").dump());
            Shape shape = entry.at("shape").get<Shape>();
            for (int64_t d : shape)
                if (d < 0) fail(op, "{}: tensor '{}' has a negative extent in shape {}", path, name, to_string(shape));
            if (!numel_fits(shape) || numel(shape) > int64_t(data_size / dtype_size(dtype)))
                fail(op, "{}: tensor '{}' has shape {}, more elements than the file's {} data bytes hold", path, name,
                     to_string(shape), data_size);
            auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
            size_t bytes = size_t(numel(shape)) * dtype_size(dtype);
            if (offsets.size() != 2 || offsets[1] < offsets[0] || offsets[1] - offsets[0] != bytes)
                fail(op, "{}: tensor '{}' has data_offsets {} inconsistent with shape {} {}", path, name,
                     entry.at("data_offsets").dump(), to_string(shape), to_string(dtype));
            if (offsets[1] > data_size)
                fail(op, "{} is truncated: tensor '{}' needs bytes up to {} but the data section has {}", path, name,
                     offsets[1], data_size);
            Tensor t = Tensor::empty(shape, dtype);
            std::memcpy(t.raw_data(), file.data() + data_start + offsets[0], bytes);
            out.emplace(name, t);
        } catch (const nlohmann::json::exception& e) {
            fail(op, "{}: tensor '{}' has a corrupt header entry: {}", path, name, e.what());
        }
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
}  // namespace

void save_checkpoint(const std::string& path, const Module& model, Optimizer* optimizer,
                     const std::map<std::string, std::string>& metadata) {
    std::vector<std::pair<std::string, Tensor>> tensors = model.named_parameters();
    if (optimizer) {
        for (auto& [name, slot] : optimizer->state()) tensors.emplace_back("optimizer." + name, *slot);
        tensors.emplace_back("optimizer.step", Tensor::from_vector(std::vector<int64_t>{optimizer->steps()}, {1}));
    }
    std::map<std::string, std::string> all = metadata;
    all["format"] = "tapegrad";
    save_tensors(path, tensors, all);
}

void load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer) {
    const char* op = "load_checkpoint";
    std::map<std::string, Tensor> file = load_tensors(path);
    auto slots = checkpoint_slots(model, optimizer);
    // Check everything before changing anything.
    for (auto& [name, slot] : slots) {
        auto it = file.find(name);
        if (it == file.end()) fail(op, "{} has no tensor for parameter '{}'", path, name);
        if (it->second.shape() != slot->shape() || it->second.dtype() != slot->dtype())
            fail(op, "{}: parameter '{}' is {} {} in the file but {} {} in the model", path, name,
                 to_string(it->second.shape()), to_string(it->second.dtype()), to_string(slot->shape()),
                 to_string(slot->dtype()));
    }
    for (auto& [name, t] : file) {
        bool known = name == "optimizer.step" && optimizer;
        for (auto& [slot_name, slot] : slots) known |= slot_name == name;
        if (!known) fail(op, "{} has an unexpected tensor '{}' that the model does not have", path, name);
    }
    if (optimizer) {
        auto it = file.find("optimizer.step");
        if (it == file.end()) fail(op, "{} has no optimizer state ('optimizer.step' is missing)", path);
        optimizer->set_steps(it->second.to_vector<int64_t>().at(0));
    }
    NoGrad no_grad;
    for (auto& [name, slot] : slots) {
        const Tensor& value = file.at(name);
        backend_for(slot->device()).copy_from_host(slot->raw_data(), value.raw_data(),
                                                   size_t(value.numel()) * dtype_size(value.dtype()));
    }
}

}  // namespace tapegrad
