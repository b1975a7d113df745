/// \file
/// Module: a named tree of parameters, PyTorch-style.
///
/// A layer holds its parameters as Tensor members and registers pointers to them (and to its
/// sub-modules) in its constructor; the names compose into paths like "encoder.lstm.weight_ih".
/// Modules are neither copyable nor movable (the registry points at their members): hold them by
/// value inside other modules, or by std::unique_ptr / std::shared_ptr.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../core/tensor.h"

namespace tapegrad {

/// A module's size argument, checked: throws naming the module unless value >= at_least
/// ("LstmCell: hidden_size = -4 is out of range (expected hidden_size >= 1)"). Returns the value,
/// so that a constructor can check in its member-initialiser list, before any member is built.
int64_t checked_size(const char* module, const char* name, int64_t value, int64_t at_least = 1);

/// A named tree of parameters (see the file's description): the base of every layer and model.
class Module {
public:
    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    /// Parameters of this module and all sub-modules, depth first, in registration order.
    std::vector<Tensor> parameters() const;
    std::vector<std::pair<std::string, Tensor>> named_parameters() const;  ///< the parameters with their paths ("encoder.lstm.weight_ih"), in the order of parameters()
    int64_t num_parameters() const;  ///< the number of parameter elements, over all parameters

    void zero_grad();  ///< drops every parameter's gradient
    /// Moves every parameter to `device` in place (Tensor::set_data): they stay the same leaves,
    /// so an optimizer made before the move trains the moved model (PyTorch's order works).
    void to(Device device);
    /// Converts every parameter to `dtype` (e.g. Float64 for gradient checks).
    void to(DType dtype);
    void train(bool on = true);  ///< sets training mode (dropout active) on this module and every sub-module, or with on = false evaluation mode
    void eval() { train(false); }  ///< evaluation mode: train(false)
    bool training() const { return training_; }  ///< whether in training mode

    /// A table of parameter counts per sub-module and parameter, with the total.
    std::string summary(const std::string& name = "model") const;

    /// The slots holding each parameter (for loading values in place, e.g. from a checkpoint).
    std::vector<std::pair<std::string, Tensor*>> parameter_slots();

    /// Named sub-modules, for walking the tree.
    const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

protected:
    /// `slot` must be a member of the derived class, already holding the initial value.
    void register_parameter(const std::string& name, Tensor* slot);
    /// Registers a sub-module under `name`: its parameters' paths start "<name>.".
    void register_module(const std::string& name, Module* child);

private:
    template <typename Convert> void convert_parameters(Convert convert);
    void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) const;
    std::vector<std::pair<std::string, Tensor*>> params_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
};

}  // namespace tapegrad
