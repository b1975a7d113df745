#include "module.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "../autograd/tape.h"
#include "../core/backend.h"
#include "../ops/shape_ops.h"

namespace tapegrad {

int64_t checked_size(const char* module, const char* name, int64_t value, int64_t at_least) {
    if (value < at_least) fail(module, "{} = {} is out of range (expected {} >= {})", name, value, name, at_least);
    return value;
}

void Module::register_parameter(const std::string& name, Tensor* slot) {
    if (!slot->defined()) fail("register_parameter", "parameter '{}' is undefined", name);
    for (auto& [existing, _] : params_)
        if (existing == name) fail("register_parameter", "a parameter named '{}' is already registered", name);
    slot->set_requires_grad(true);
    params_.emplace_back(name, slot);
}

void Module::register_module(const std::string& name, Module* child) {
    for (auto& [existing, _] : children_)
        if (existing == name) fail("register_module", "a sub-module named '{}' is already registered", name);
    children_.emplace_back(name, child);
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const {
    for (auto& [name, slot] : params_) out.emplace_back(prefix + name, slot);
    for (auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect("", slots);
    std::vector<std::pair<std::string, Tensor>> out;
    for (auto& [name, slot] : slots) out.emplace_back(name, *slot);
    return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::parameter_slots() {
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect("", slots);
    return slots;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (auto& [name, t] : named_parameters()) out.push_back(t);
    return out;
}

int64_t Module::num_parameters() const {
    int64_t total = 0;
    for (auto& [name, t] : named_parameters()) total += t.numel();
    return total;
}

StateDict Module::state_dict() const {
    StateDict out;
    for (auto& [name, t] : named_parameters()) out.emplace_back(name, t.detach());
    return out;
}

IncompatibleKeys Module::load_state_dict(const StateDict& dict, bool strict) {
    return load_into_slots("load_state_dict", "the state dict", parameter_slots(), dict, strict);
}

namespace {
std::string quoted_list(const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
    return out;
}
}  // namespace

IncompatibleKeys load_into_slots(const std::string& who, const std::string& source,
                                 const std::vector<std::pair<std::string, Tensor*>>& slots, const StateDict& values,
                                 bool strict) {
    std::map<std::string, const Tensor*> by_name;
    for (auto& [name, value] : values)
        if (!by_name.emplace(name, &value).second) fail(who, "{} has the key '{}' twice", source, name);
    IncompatibleKeys result;
    std::set<std::string> slot_names;
    // Check everything before changing anything.
    for (auto& [name, slot] : slots) {
        slot_names.insert(name);
        auto it = by_name.find(name);
        if (it == by_name.end()) {
            result.missing_keys.push_back(name);
            continue;
        }
        const Tensor& value = *it->second;
        if (value.shape() != slot->shape() || value.dtype() != slot->dtype())
            fail(who, "'{}' is {} {} in {} but {} {} in the model", name, to_string(value.shape()),
                 to_string(value.dtype()), source, to_string(slot->shape()), to_string(slot->dtype()));
    }
    for (auto& [name, value] : values)
        if (!slot_names.count(name)) result.unexpected_keys.push_back(name);
    if (strict && !result.missing_keys.empty())
        fail(who, "{} has no tensor for {} of the model's tensors: {}{}", source, result.missing_keys.size(),
             quoted_list(result.missing_keys),
             result.unexpected_keys.empty() ? "" : "; and unexpected keys: " + quoted_list(result.unexpected_keys));
    if (strict && !result.unexpected_keys.empty())
        fail(who, "{} has unexpected keys that the model has no tensor for: {}", source, quoted_list(result.unexpected_keys));
    NoGrad no_grad;
    for (auto& [name, slot] : slots) {
        auto it = by_name.find(name);
        if (it == by_name.end()) continue;
        const Tensor value = tapegrad::to(*it->second, slot->device());  // the same tensor when already there
        const size_t bytes = size_t(value.numel()) * dtype_size(value.dtype());
        if (bytes > 0 && value.raw_data() != slot->raw_data())  // its own state_dict holds the same bytes
            backend_for(slot->device()).copy_within(slot->raw_data(), value.raw_data(), bytes);
    }
    return result;
}

void Module::zero_grad() {
    for (Tensor t : parameters()) t.zero_grad();
}

// Replaces every parameter slot by convert(old), keeping it a leaf that requires grad.
template <typename Convert>
void Module::convert_parameters(Convert convert) {
    NoGrad no_grad;
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect("", slots);
    // In place: an optimizer made before the move holds the same tensors, and sees them moved.
    for (auto& [name, slot] : slots) slot->set_data(convert(*slot));
}

void Module::to(Device device) {
    convert_parameters([&](const Tensor& t) { return tapegrad::to(t, device); });
}

void Module::to(DType dtype) {
    convert_parameters([&](const Tensor& t) { return tapegrad::to(t, dtype); });
}

void Module::train(bool on) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
}

std::string Module::summary(const std::string& name) const {
    std::string out = fmt::format("{:<40} {:>20} {:>12}\n", "parameter", "shape", "count");
    std::vector<std::pair<std::string, Tensor*>> slots;
    collect("", slots);
    int64_t total = 0;
    for (auto& [pname, slot] : slots) {
        out += fmt::format("{:<40} {:>20} {:>12}\n", name + "." + pname, to_string(slot->shape()), slot->numel());
        total += slot->numel();
    }
    for (auto& [cname, child] : children_)
        out += fmt::format("{:<40} {:>20} {:>12}\n", "  subtotal " + name + "." + cname, "", child->num_parameters());
    out += fmt::format("{:<40} {:>20} {:>12}\n", "total", "", total);
    return out;
}

}  // namespace tapegrad
