// Containers of modules, as PyTorch's: ModuleList (a list of sub-modules, named "0", "1", ...) and
// Sequential (a ModuleList whose forward runs its modules in order). They own their modules by
// std::unique_ptr (a Module can be neither copied nor moved), so each keeps its address and its
// registration stays valid; parameters are named "0.weight", "1.bias", ... as in PyTorch.
//
//   Sequential mlp;
//   mlp.push_back(std::make_unique<Linear>(1, 32, gen));   // parameters "0.weight", "0.bias"
//   mlp.push_back(std::make_unique<Tanh>());
//   mlp.push_back(std::make_unique<Linear>(32, 1, gen));   // "2.weight", "2.bias"
//   Tensor y = mlp.forward(x);                             // [N, 1] -> [N, 32] -> [N, 32] -> [N, 1]
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "module.h"

namespace tapegrad {

/// `index` counted from the end when negative (PyTorch's list[-1]), checked against `size`:
/// throws naming `container` ("ModuleList: index 3 is out of range for 3 modules (expected
/// -3 <= index < 3)"). Returns the index from the front.
size_t checked_index(const char* container, int64_t index, size_t size);

/// A list of modules of type M (Module: any), registered as sub-modules "0", "1", ... in order.
/// Iterating yields the std::unique_ptr<M> of each: `for (auto& layer : layers) x = layer->forward(x);`.
template <typename M = Module>
class ModuleList : public Module {
public:
    /// Appends `module` (registered under its index); returns it, for its own type's members.
    M& push_back(std::unique_ptr<M> module) {
        if (!module) fail("ModuleList::push_back", "got a null module (expected a std::unique_ptr holding one)");
        register_module(std::to_string(modules_.size()), module.get());
        modules_.push_back(std::move(module));
        return *modules_.back();
    }
    /// The number of modules.
    int64_t size() const { return int64_t(modules_.size()); }
    /// The module at `index` (negative: from the end); out of range throws.
    M& operator[](int64_t index) const { return *modules_[checked_index("ModuleList", index, modules_.size())]; }
    /// The modules in order, each as its std::unique_ptr<M>.
    auto begin() const { return modules_.begin(); }
    auto end() const { return modules_.end(); }  ///< the end of begin()'s range

private:
    std::vector<std::unique_ptr<M>> modules_;
};

/// Modules applied one after another, y = f_n(... f_1(f_0(x))), as torch.nn.Sequential. Any
/// module with a `Tensor forward(const Tensor&)` goes in (Linear, LayerNorm, Dropout, Embedding,
/// Tanh, another Sequential, ...).
class Sequential : public ModuleList<Module> {
public:
    /// Appends `module`, registered under its index, and its forward as the next step.
    template <typename M>
    M& push_back(std::unique_ptr<M> module) {
        M* layer = module.get();
        ModuleList<Module>::push_back(std::move(module));
        steps_.push_back([layer](const Tensor& x) { return layer->forward(x); });
        return *layer;
    }
    /// Each module's forward on the output of the one before; x itself when there is none.
    Tensor forward(const Tensor& x) const;

private:
    std::vector<std::function<Tensor(const Tensor&)>> steps_;  // steps_[i] runs module i's forward
};

}  // namespace tapegrad
