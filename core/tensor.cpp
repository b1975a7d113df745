#include "tensor.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "backend.h"

namespace tapegrad {

Storage::Storage(size_t bytes_, Device device_) : bytes(bytes_), device(device_) {
    data = backend_for(device).allocate(device, bytes);
}

Storage::Storage(void* external, size_t bytes_, Device device_)
    : data(external), bytes(bytes_), device(device_), owned(false) {}

Storage::~Storage() {
    if (data && owned) backend_for(device).deallocate(device, data, bytes);
}

TensorImpl& Tensor::impl() const {
    if (!impl_) throw Error("tensor: use of an undefined (default-constructed) Tensor");
    return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t d : shape)
        if (d < 0) fail("empty", "negative extent in shape {}", to_string(shape));
    if (shape.size() > size_t(kMaxDims))
        fail("empty", "shape {} has {} dims; tapegrad supports at most {}", to_string(shape), shape.size(),
             kMaxDims);
    if (!numel_fits(shape) || tapegrad::numel(shape) > INT64_MAX / int64_t(dtype_size(dtype)))
        fail("empty", "shape {} of {} needs more than 2^63 bytes", to_string(shape), to_string(dtype));
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = dtype;
    impl->storage = std::make_shared<Storage>(std::max<size_t>(1, tapegrad::numel(shape)) * dtype_size(dtype), device);
    return Tensor(std::move(impl));
}

Tensor Tensor::from_blob(void* data, const Shape& shape, DType dtype, Device device) {
    if (data == nullptr && tapegrad::numel(shape) > 0)
        fail("from_blob", "null data for a tensor of shape {} (expected a pointer to {} elements)", to_string(shape),
             tapegrad::numel(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = dtype;
    impl->storage = std::make_shared<Storage>(data, tapegrad::numel(shape) * dtype_size(dtype), device);
    return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    backend_for(device).fill(t, value);
    return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

namespace {
// Builds a tensor on the host from per-element values, then moves it to `device`.
template <typename Fn>
Tensor from_host_values(const Shape& shape, DType dtype, Device device, Fn value_at) {
    int64_t n = numel(shape);
    Tensor t = Tensor::empty(shape, dtype, device);
    std::vector<char> host(std::max<int64_t>(1, n) * dtype_size(dtype));
    for (int64_t i = 0; i < n; ++i) {
        double v = value_at(i);
        if (dtype == DType::Float32) reinterpret_cast<float*>(host.data())[i] = float(v);
        else if (dtype == DType::Float64) reinterpret_cast<double*>(host.data())[i] = v;
        else reinterpret_cast<int64_t*>(host.data())[i] = int64_t(v);
    }
    backend_for(device).copy_from_host(t.raw_data(), host.data(), n * dtype_size(dtype));
    return t;
}

template <typename T>
Tensor from_typed_vector(const std::vector<T>& values, const Shape& shape, Device device) {
    if (int64_t(values.size()) != numel(shape))
        fail("from_vector", "{} values cannot fill shape {} (expected {})", values.size(), to_string(shape),
             numel(shape));
    Tensor t = Tensor::empty(shape, dtype_of<T>(), device);
    backend_for(device).copy_from_host(t.raw_data(), values.data(), values.size() * sizeof(T));
    return t;
}
}  // namespace

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
    return from_host_values({n}, dtype, device, [](int64_t i) { return double(i); });
}

Tensor Tensor::randn(const Shape& shape, Generator& gen, DType dtype, Device device) {
    uint64_t first = gen.take(tapegrad::numel(shape));
    uint64_t seed = gen.seed();
    return from_host_values(shape, dtype, device, [&](int64_t i) { return philox_normal(seed, first + i); });
}

Tensor Tensor::uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype, Device device) {
    if (!std::isfinite(low) || !std::isfinite(high) || !(low <= high) || !std::isfinite(high - low))
        fail("uniform", "low = {}, high = {} is not a valid range (expected finite low <= high)", low, high);
    uint64_t first = gen.take(tapegrad::numel(shape));
    uint64_t seed = gen.seed();
    return from_host_values(shape, dtype, device,
                            [&](int64_t i) { return low + (high - low) * philox_uniform(seed, first + i); });
}

Tensor Tensor::from_values(const std::vector<double>& values, const Shape& shape, DType dtype, Device device) {
    if (int64_t(values.size()) != tapegrad::numel(shape))
        fail("from_values", "{} values cannot fill shape {} (expected {})", values.size(), to_string(shape),
             tapegrad::numel(shape));
    return from_host_values(shape, dtype, device, [&](int64_t i) { return values[i]; });
}

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s, Device d) { return from_typed_vector(v, s, d); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s, Device d) { return from_typed_vector(v, s, d); }
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s, Device d) { return from_typed_vector(v, s, d); }

int64_t Tensor::size(int axis) const { return shape()[normalize_axis("size", axis, dim())]; }

std::string Tensor::describe() const {
    return to_string(shape()) + " " + to_string(dtype()) + " " + to_string(device());
}

void* Tensor::raw_data() const {
    return static_cast<char*>(impl().storage->data) + impl().offset * dtype_size(impl().dtype);
}

template <typename T> T* Tensor::data() const {
    if (dtype() != dtype_of<T>())
        fail("data", "tensor is {}, but its data was requested as {}", describe(), to_string(dtype_of<T>()));
    return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int64_t* Tensor::data<int64_t>() const;

template <typename T> std::vector<T> Tensor::to_vector() const {
    if (dtype() != dtype_of<T>())
        fail("to_vector", "tensor is {}, but a vector of {} was requested", describe(), to_string(dtype_of<T>()));
    std::vector<T> out(numel());
    backend_for(device()).copy_to_host(out.data(), raw_data(), out.size() * sizeof(T));
    return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

std::vector<double> Tensor::to_double_vector() const {
    switch (dtype()) {
        case DType::Float32: {
            auto v = to_vector<float>();
            return {v.begin(), v.end()};
        }
        case DType::Float64: return to_vector<double>();
        case DType::Int64: {
            auto v = to_vector<int64_t>();
            return {v.begin(), v.end()};
        }
    }
    return {};
}

double Tensor::item() const {
    if (numel() != 1) fail("item", "tensor {} has {} elements (expected exactly 1)", describe(), numel());
    return to_double_vector()[0];
}

Tensor& Tensor::set_requires_grad(bool on) {
    if (!is_leaf())
        fail("set_requires_grad", "tensor {} was produced by an op; only leaves can be marked (use detach())",
             describe());
    if (on && !is_floating(dtype()))
        fail("set_requires_grad", "tensor {} is {}; only float32/float64 tensors can require grad", describe(),
             to_string(dtype()));
    impl().requires_grad = on;
    return *this;
}

void Tensor::set_data(const Tensor& values) {
    if (!is_leaf() || values.shape() != shape())
        fail("set_data", "cannot give {} the values {} (expected a leaf, and values of its shape)", describe(),
             values.describe());
    TensorImpl& self = impl();
    const TensorImpl& from = values.impl();
    self.storage = from.storage;
    self.dtype = from.dtype;
    self.offset = from.offset;
    self.grad.reset();
}

void Tensor::set_grad(const Tensor& grad) {
    if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype() || grad.device() != device()))
        fail("set_grad", "gradient {} does not match tensor {}", grad.describe(), describe());
    impl().grad = grad.impl_ptr();
}

Tensor& Tensor::retain_grad() {
    if (!requires_grad()) fail("retain_grad", "tensor {} does not require grad", describe());
    impl().retains_grad = true;
    return *this;
}

Tensor& Tensor::register_hook(GradHook hook) {
    if (!requires_grad()) fail("register_hook", "tensor {} does not require grad", describe());
    impl().hooks.push_back(std::move(hook));
    return *this;
}

Tensor Tensor::detach() const {
    auto impl_copy = std::make_shared<TensorImpl>();
    impl_copy->shape = shape();
    impl_copy->dtype = dtype();
    impl_copy->storage = impl().storage;
    impl_copy->offset = impl().offset;
    return Tensor(std::move(impl_copy));
}

namespace {
void print_values(std::ostream& os, const std::vector<double>& v, const Shape& shape, size_t axis,
                  int64_t start, int64_t stride_total) {
    if (axis == shape.size()) {
        os << v[start];
        return;
    }
    int64_t extent = shape[axis];
    int64_t stride = stride_total / std::max<int64_t>(extent, 1);
    const int64_t edge = 3;  // print the first and last `edge` entries of long dims
    os << "[";
    for (int64_t i = 0; i < extent; ++i) {
        if (extent > 2 * edge && i == edge) {
            os << "..., ";
            i = extent - edge;
        }
        print_values(os, v, shape, axis + 1, start + i * stride, stride);
        if (i + 1 < extent) os << (axis + 1 == shape.size() ? ", " : ",\n ");
    }
    os << "]";
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    if (!t.defined()) return os << "Tensor(undefined)";
    os << "Tensor" << t.describe() << (t.requires_grad() ? " requires_grad" : "") << "\n";
    print_values(os, t.to_double_vector(), t.shape(), 0, 0, t.numel());
    return os;
}

}  // namespace tapegrad
