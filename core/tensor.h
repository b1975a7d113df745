/// \file
/// Tensor: a cheap, shared handle to an n-dimensional array.
///
/// Copying a Tensor copies the handle, not the data (like a shared_ptr). Every tensor is
/// contiguous and row-major: reshape (and a slice whose window is contiguous) returns a view that
/// shares storage; transpose, other slices and concat return copies (see ops/shape_ops.h). A
/// tensor that requires grad and was produced by an op remembers the tape record that made it, so
/// backward() can find its way back.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "device.h"
#include "dtype.h"
#include "error.h"
#include "random.h"
#include "shape.h"

namespace tapegrad {

class Tensor;
struct TapeState;

/// A block of device memory, returned to its backend's allocator when the last tensor using it dies.
struct Storage {
    void* data = nullptr;  ///< the first byte (device address space)
    size_t bytes = 0;  ///< its size
    Device device;  ///< the device it is on
    bool owned = true;  ///< false for memory the user lent with Tensor::from_blob
    /// `bytes` of new memory on `device`, from its backend's allocator.
    Storage(size_t bytes, Device device);
    /// A view of memory the caller owns (Tensor::from_blob): never freed here.
    Storage(void* external, size_t bytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
};

/// A gradient hook sees the gradient flowing into a tensor and returns the gradient to use
/// instead (return it unchanged to only observe it).
using GradHook = std::function<Tensor(const Tensor& grad)>;

/// What a Tensor handle points to: shape, dtype, storage, and the autograd state (gradient, hooks, the record that produced it). Shared by every copy of the handle.
struct TensorImpl {
    Shape shape;  ///< extents, outermost first
    DType dtype = DType::Float32;  ///< element type
    std::shared_ptr<Storage> storage;  ///< the memory, shared with views
    int64_t offset = 0;  ///< in elements, into storage (non-zero for views: contiguous slices, their reshapes)

    bool requires_grad = false;  ///< whether backward computes a gradient for it
    bool retains_grad = false;  ///< whether an intermediate keeps its gradient after backward (retain_grad)
    std::shared_ptr<TensorImpl> grad;  ///< the accumulated gradient (null until backward reaches it)
    std::vector<GradHook> hooks;  ///< run in order on the gradient reaching it (register_hook)

    /// The tape record that produced this tensor (none for leaves).
    std::weak_ptr<TapeState> tape;
    int64_t record = -1;  ///< its index on that tape, -1 for a leaf
    uint64_t tape_epoch = 0;  ///< the tape's epoch when recorded (a cleared tape has moved on)
};

/// A cheap, shared handle to an n-dimensional array (see the file's description); default-constructed, it is undefined.
class Tensor {
public:
    Tensor() = default;
    /// A handle to `impl` (shared with every other handle to it).
    explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

    // ---- factories -------------------------------------------------------------------------
    static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());  ///< uninitialised values
    static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());  ///< all 0
    static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());  ///< all 1
    /// all `value`
    static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
                       Device device = Device::cpu());
    /// 0, 1, ..., n-1 (Int64 gives index tensors).
    static Tensor arange(int64_t n, DType dtype = DType::Float32, Device device = Device::cpu());
    /// Standard normal / uniform in [low, high), drawn from `gen` (counter-based: same on every device);
    /// uniform needs finite low <= high.
    static Tensor randn(const Shape& shape, Generator& gen, DType dtype = DType::Float32,
                        Device device = Device::cpu());
    /// Uniform in [low, high), drawn from `gen` (see randn).
    static Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
                          DType dtype = DType::Float32, Device device = Device::cpu());
    /// From host values, in row-major order, of the vector's dtype: float32, float64 or int64.
    ///@{
    static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());
    static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                              Device device = Device::cpu());
    static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape,
                              Device device = Device::cpu());
    ///@}
    /// values converted to `dtype` (masks, positions and other constants built on the host).
    static Tensor from_values(const std::vector<double>& values, const Shape& shape, DType dtype,
                              Device device = Device::cpu());
    /// A tensor viewing memory the caller owns and keeps alive (on `device`); never freed by tapegrad.
    static Tensor from_blob(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
    /// A 0-dim tensor holding `value`.
    static Tensor scalar(double value, DType dtype = DType::Float32, Device device = Device::cpu());

    // ---- metadata ----------------------------------------------------------------------------
    bool defined() const { return bool(impl_); }  ///< false for a default-constructed Tensor
    const Shape& shape() const { return impl().shape; }  ///< extents, outermost first
    int dim() const { return int(impl().shape.size()); }  ///< the number of dims
    int64_t size(int axis) const;  ///< the extent of dim `axis` (negative counts from the end)
    int64_t numel() const { return tapegrad::numel(impl().shape); }  ///< the number of elements
    DType dtype() const { return impl().dtype; }  ///< element type
    Device device() const { return impl().storage->device; }  ///< the device its memory is on
    /// "[2, 3] float32 cpu"
    std::string describe() const;

    // ---- data --------------------------------------------------------------------------------
    /// Raw pointer to the first element (the device's address space). T must match dtype().
    template <typename T> T* data() const;
    void* raw_data() const;  ///< the first element, untyped (the device's address space)
    /// The single value of a one-element tensor, as double.
    double item() const;
    /// All values, copied to the host, as T (which must match dtype()).
    template <typename T> std::vector<T> to_vector() const;
    /// All values converted to double (any dtype, any device).
    std::vector<double> to_double_vector() const;

    // ---- autograd ----------------------------------------------------------------------------
    bool requires_grad() const { return impl().requires_grad; }  ///< whether backward computes a gradient for it
    /// Marks a leaf as a parameter/input whose gradient backward() should compute.
    Tensor& set_requires_grad(bool on = true);
    bool is_leaf() const { return impl().record < 0; }  ///< true unless an op produced it on a tape
    /// The accumulated gradient (undefined until a backward pass reaches this tensor).
    Tensor grad() const { return Tensor(impl().grad); }
    void set_grad(const Tensor& grad);  ///< replaces the accumulated gradient (same shape, dtype and device)
    void zero_grad() { impl().grad.reset(); }  ///< drops the accumulated gradient
    /// Keep this intermediate's gradient after backward (leaves always keep theirs).
    Tensor& retain_grad();
    /// Runs `hook` on the gradient reaching this tensor; the hook's result replaces it.
    Tensor& register_hook(GradHook hook);
    /// Same data, cut off from the tape: a leaf that does not require grad.
    Tensor detach() const;
    /// This leaf now holds `values` (same shape; any dtype and device), its gradient reset: every
    /// handle to it (an optimizer's) sees the change. PyTorch's `param.data = values`; Module::to
    /// moves parameters with it.
    void set_data(const Tensor& values);

    TensorImpl& impl() const;  ///< the shared state (throws on an undefined Tensor)
    const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }  ///< the shared state's pointer (null when undefined)
    bool same(const Tensor& other) const { return impl_ == other.impl_; }  ///< whether both handles point to the same tensor

private:
    std::shared_ptr<TensorImpl> impl_;
};

/// Prints the tensor's description and values.
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace tapegrad
