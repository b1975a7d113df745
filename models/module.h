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

/// Tensors by name, in order: a module's state_dict() (PyTorch's OrderedDict of parameters).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

/// The names load_state_dict(dict, false) could not match: parameters the dict has no tensor
/// for, and entries of the dict the module has no parameter for (PyTorch's result of the same name).
struct IncompatibleKeys {
    std::vector<std::string> missing_keys;     ///< parameters the dict has no tensor for
    std::vector<std::string> unexpected_keys;  ///< entries of the dict that are no parameter
};

/// The one loader of named values into tensors in place, behind Module::load_state_dict and
/// load_checkpoint: copies values[name] into *slot for each slot, the bytes themselves (any
/// device to any device), so that every handle to the slot (an optimizer's, a state_dict's) sees
/// them. Checks everything before it changes anything, and throws, naming `who` and `source`:
/// on a name twice in `values`; on a value whose shape or dtype differs from its slot's (the key
/// and both); and, when `strict`, on missing or unexpected keys (all of them named). Without
/// `strict`, those are returned instead and the matching slots are loaded.
IncompatibleKeys load_into_slots(const std::string& who, const std::string& source,
                                 const std::vector<std::pair<std::string, Tensor*>>& slots, const StateDict& values,
                                 bool strict);

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

    /// The parameters by name, in named_parameters() order, as PyTorch's state_dict(): references,
    /// not copies. Each is a detached handle (requires no grad) on the parameter's own storage, so
    /// it shows later in-place changes (an optimizer step, load_state_dict); a Module::to gives the
    /// parameters new storage and leaves the handles on the old. A snapshot that stays: load it into
    /// a second model of the same shape (load_state_dict copies), or save_checkpoint.
    StateDict state_dict() const;
    /// Copies the dict's values into the parameters in place (load_into_slots): an optimizer made
    /// before keeps training them. strict: a parameter the dict lacks, or an entry that is no
    /// parameter, throws naming every such key; without strict they are returned (and the rest
    /// loaded). A shape or dtype that differs throws either way, naming the key and both; values
    /// may be on any device.
    IncompatibleKeys load_state_dict(const StateDict& dict, bool strict = true);

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
