#include "shape_ops.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <numeric>

#include "../autograd/tape.h"
#include "op_utils.h"

namespace tapegrad {

namespace {
// The sub-block `block` of a contiguous tensor of shape `whole`, starting at `start` along `axis`.
StridedLayout block_layout(const Shape& whole, const Shape& block, int axis, int64_t start) {
    StridedLayout l = contiguous_layout(block);
    Shape strides = contiguous_strides(whole);
    for (int k = 0; k < l.ndim; ++k) l.stride[k] = strides[k];
    l.offset = start * strides[axis];
    return l;
}
}  // namespace

// y = x viewed with a new shape;   dL/dx += dL/dy viewed with x's shape
Tensor reshape(const Tensor& x, const Shape& shape) {
    check_defined("reshape", {x});
    Shape resolved = shape;
    int64_t known = 1;
    int inferred = -1;
    for (size_t k = 0; k < shape.size(); ++k) {
        if (shape[k] == -1) {
            if (inferred >= 0) fail("reshape", "shape {} has more than one -1", to_string(shape));
            inferred = int(k);
        } else if (shape[k] < 0) {
            fail("reshape", "cannot view {} as {}: extent {} of dim {} is negative (only -1, \"infer\", is allowed)",
                 x.describe(), to_string(shape), shape[k], k);
        } else if (__builtin_mul_overflow(known, shape[k], &known)) {
            fail("reshape", "cannot view {} as {}: more elements than fit in 64 bits", x.describe(), to_string(shape));
        }
    }
    if (inferred >= 0 && known > 0 && x.numel() % known == 0) resolved[inferred] = x.numel() / known;
    if (numel(resolved) != x.numel() || (inferred >= 0 && known == 0))
        fail("reshape", "cannot view {} ({} elements) as {}", x.describe(), x.numel(), to_string(shape));
    Tensor y = alias_with_shape(x, resolved);
    record("reshape", "dL/dx += dL/dy seen with x's shape", {x}, y,
           [](const Tensor& gy, InputGrads& gx) { gx.add(0, gy); });
    return y;
}

Tensor unsqueeze(const Tensor& x, int axis) {
    check_defined("unsqueeze", {x});
    axis = normalize_axis("unsqueeze", axis, x.dim() + 1);
    Shape s = x.shape();
    s.insert(s.begin() + axis, 1);
    return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int axis) {
    check_defined("squeeze", {x});
    axis = normalize_axis("squeeze", axis, x.dim());
    if (x.shape()[axis] != 1) fail("squeeze", "dim {} of {} has extent {} (expected 1)", axis, x.describe(), x.shape()[axis]);
    Shape s = x.shape();
    s.erase(s.begin() + axis);
    return reshape(x, s);
}

// y = x with dims reordered;   dL/dx += dL/dy with the inverse order
Tensor permute(const Tensor& x, const std::vector<int>& perm) {
    check_defined("permute", {x});
    auto refuse = [&] {
        fail("permute", "order [{}] is not a permutation of the {} axes of {} (expected each of 0..{} once)",
             fmt::join(perm, ", "), x.dim(), x.describe(), x.dim() - 1);
    };
    if (int(perm.size()) != x.dim()) refuse();
    std::vector<int> resolved(perm.size());
    for (size_t k = 0; k < perm.size(); ++k) resolved[k] = normalize_axis("permute", perm[k], x.dim());
    std::vector<int> sorted = resolved;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> identity(x.dim());
    std::iota(identity.begin(), identity.end(), 0);
    if (sorted != identity) refuse();
    StridedLayout src = permuted_layout(x.shape(), resolved);
    Shape y_shape(src.shape, src.shape + src.ndim);
    Tensor y = empty_like(x, y_shape);
    kernels(x).strided_copy(x, src, y, contiguous_layout(y_shape), false);
    std::vector<int> inverse(perm.size());
    for (size_t k = 0; k < resolved.size(); ++k) inverse[resolved[k]] = int(k);
    record("permute", "dL/dx += dL/dy permuted back (the inverse order)", {x}, y,
           [y_shape, inverse](const Tensor& gy, InputGrads& gx) {
        InputGrads::Out g = gx.out(0);
        kernels(gy).strided_copy(gy, permuted_layout(y_shape, inverse), g.grad, contiguous_layout(g.grad.shape()),
                                 g.accumulate);
    });
    return y;
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
    check_defined("transpose", {x});
    axis0 = normalize_axis("transpose", axis0, x.dim());
    axis1 = normalize_axis("transpose", axis1, x.dim());
    std::vector<int> perm(x.dim());
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[axis0], perm[axis1]);
    return permute(x, perm);
}

namespace {
// The values of x's window `layout` (of shape `window_shape`, along `axis`), shaped `y_shape`: a
// view when every dim before `axis` has extent 1 (a time step of [T, B, G], a row block of
// [N, H]: the window is one contiguous block of x), else a copy. Not recorded.
Tensor window_values(const Tensor& x, int axis, const StridedLayout& layout, const Shape& window_shape,
                     const Shape& y_shape) {
    if (numel(Shape(x.shape().begin(), x.shape().begin() + axis)) == 1)
        return alias_with_shape(x, y_shape, layout.offset);
    Tensor y = empty_like(x, y_shape);
    kernels(x).strided_copy(x, layout, y, contiguous_layout(window_shape), false);
    return y;
}

// The window start <= j < end of x along `axis`, given the shape `y_shape` (x's shape with that
// extent replaced by end - start, or removed by select).
//   dL/dx[window] += dL/dy
Tensor window(const char* op, const char* formula, const Tensor& x, int axis, int64_t start, int64_t end,
              const Shape& y_shape) {
    Shape window_shape = x.shape();
    window_shape[axis] = end - start;
    StridedLayout layout = block_layout(x.shape(), window_shape, axis, start);
    Tensor y = window_values(x, axis, layout, window_shape, y_shape);
    record(op, formula, {x}, y, [layout, window_shape](const Tensor& gy, InputGrads& gx) {
        kernels(gy).strided_copy(gy, contiguous_layout(window_shape), gx.out(0, InputGrads::Writes::Part).grad, layout,
                                 true);
    });
    return y;
}
}  // namespace

// y = x[.., start:end, ..];   dL/dx[.., start:end, ..] += dL/dy   (a view when the window is contiguous)
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
    check_defined("slice", {x});
    axis = normalize_axis("slice", axis, x.dim());
    int64_t extent = x.shape()[axis];
    if (start < 0 || end > extent || start > end)
        fail("slice", "range [{}, {}) is out of bounds for dim {} of {} (expected 0 <= start <= end <= {})", start,
             end, axis, x.describe(), extent);
    Shape y_shape = x.shape();
    y_shape[axis] = end - start;
    return window("slice", "dL/dx[.., start:end, ..] += dL/dy", x, axis, start, end, y_shape);
}

Tensor select(const Tensor& x, int axis, int64_t index) {
    check_defined("select", {x});
    axis = normalize_axis("select", axis, x.dim());
    int64_t extent = x.shape()[axis];
    if (index < -extent || index >= extent)
        fail("select", "index {} is out of bounds for dim {} of {} (expected -{} <= index < {})", index, axis,
             x.describe(), extent, extent);
    if (index < 0) index += extent;
    Shape y_shape = x.shape();
    y_shape.erase(y_shape.begin() + axis);
    return window("select", "dL/dx[.., index, ..] += dL/dy", x, axis, index, index + 1, y_shape);
}

// y = [x_0, x_1, ..] along axis;   dL/dx_i += the block of dL/dy that x_i filled
Tensor concat(const std::vector<Tensor>& xs, int axis) {
    if (xs.empty()) fail("concat", "needs at least one tensor");
    check_same_dtype_device("concat", xs);
    axis = normalize_axis("concat", axis, xs[0].dim());
    Shape y_shape = xs[0].shape();
    y_shape[axis] = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        Shape a = xs[i].shape(), b = xs[0].shape();
        if (a.size() == b.size()) a[axis] = b[axis] = 0;
        if (a != b)
            fail("concat", "input {} is {} but input 0 is {} (all dims except {} must agree)", i,
                 to_string(xs[i].shape()), to_string(xs[0].shape()), axis);
        y_shape[axis] += xs[i].shape()[axis];
    }
    Tensor y = empty_like(xs[0], y_shape);
    std::vector<StridedLayout> blocks;
    int64_t start = 0;
    for (const Tensor& x : xs) {
        blocks.push_back(block_layout(y_shape, x.shape(), axis, start));
        kernels(x).strided_copy(x, contiguous_layout(x.shape()), y, blocks.back(), false);
        start += x.shape()[axis];
    }
    record("concat", "dL/dx_i += the block of dL/dy that x_i filled", xs, y, [blocks](const Tensor& gy, InputGrads& gx) {
        for (size_t i = 0; i < blocks.size(); ++i) {
            if (!gx.needed(i)) continue;
            InputGrads::Out g = gx.out(i);
            kernels(gy).strided_copy(gy, blocks[i], g.grad, contiguous_layout(g.grad.shape()), g.accumulate);
        }
    });
    return y;
}

Tensor stack(const std::vector<Tensor>& xs, int axis) {
    if (xs.empty()) fail("stack", "needs at least one tensor");
    check_same_dtype_device("stack", xs);
    for (size_t i = 1; i < xs.size(); ++i)
        if (xs[i].shape() != xs[0].shape())
            fail("stack", "input {} is {} but input 0 is {} (all must have the same shape)", i,
                 to_string(xs[i].shape()), to_string(xs[0].shape()));
    axis = normalize_axis("stack", axis, xs[0].dim() + 1);
    std::vector<Tensor> expanded;
    for (const Tensor& x : xs) expanded.push_back(unsqueeze(x, axis));
    return concat(expanded, axis);
}

namespace {
// One split's pieces: their windows of x, and the gradients their records hand over in backward.
struct SplitPieces {
    std::vector<Shape> shapes;
    std::vector<StridedLayout> windows;
    std::vector<Tensor> grads;  // dL/d(piece i), undefined while none has reached piece i
};
}  // namespace

// y_0, y_1, ... = consecutive windows of x along `axis`
//   dL/dx = [dL/dy_0, dL/dy_1, ...] along axis (zeros for a piece no gradient reached)
// One pass writes each window of dL/dx once, where a slice per piece would zero-fill dL/dx and
// then add every piece into it. Each piece's record hands its gradient over; the "split" record,
// made BEFORE the pieces' (so backward runs it after all of them), puts dL/dx together. Its output is a one-element marker that every piece takes
// as its input, so that backward reaches it.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int axis) {
    check_defined("split", {x});
    axis = normalize_axis("split", axis, x.dim());
    int64_t total = std::accumulate(sizes.begin(), sizes.end(), int64_t(0));
    if (total != x.shape()[axis])
        fail("split", "sizes sum to {} but dim {} of {} has extent {}", total, axis, x.describe(), x.shape()[axis]);
    auto state = std::make_shared<SplitPieces>();
    int64_t start = 0;
    for (int64_t s : sizes) {
        if (s < 0) fail("split", "piece size {} is negative (x is {})", s, x.describe());
        Shape shape = x.shape();
        shape[axis] = s;
        state->shapes.push_back(shape);
        state->windows.push_back(block_layout(x.shape(), shape, axis, start));
        start += s;
    }
    state->grads.resize(sizes.size());
    Tensor marker = Tensor::zeros({1}, x.dtype(), x.device());
    record("split", "dL/dx += [dL/dy_0, dL/dy_1, ...] along the axis (zeros where no gradient came)", {x}, marker,
           [state](const Tensor&, InputGrads& gx) {
        SplitPieces& s = *state;
        InputGrads::Out g = gx.out(0);
        for (size_t i = 0; i < s.grads.size(); ++i) {
            Tensor piece = s.grads[i];
            if (!piece.defined()) {
                if (g.accumulate) continue;  // nothing to add; a fresh buffer still needs its zeros
                piece = Tensor::zeros(s.shapes[i], g.grad.dtype(), g.grad.device());
            }
            kernels(piece).strided_copy(piece, contiguous_layout(s.shapes[i]), g.grad, s.windows[i], g.accumulate);
        }
        s.grads.assign(s.grads.size(), Tensor());  // a later backward pass (keep_tape) starts afresh
    });
    std::vector<Tensor> pieces;
    for (size_t i = 0; i < sizes.size(); ++i) {
        Tensor y = window_values(x, axis, state->windows[i], state->shapes[i], state->shapes[i]);
        record("slice", "dL/dsplit += 0 (dL/dy goes to the split record, which writes it into dL/dx)", {marker}, y,
               [state, i](const Tensor& gy, InputGrads& gx) {
            state->grads[i] = gy;
            gx.out(0, InputGrads::Writes::Part);  // marks the split record as reached
        });
        pieces.push_back(y);
    }
    return pieces;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int axis) {
    check_defined("chunk", {x});
    axis = normalize_axis("chunk", axis, x.dim());
    if (chunks <= 0 || x.shape()[axis] % chunks != 0)
        fail("chunk", "dim {} of {} (extent {}) cannot be cut into {} equal pieces", axis, x.describe(),
             x.shape()[axis], chunks);
    return split(x, std::vector<int64_t>(chunks, x.shape()[axis] / chunks), axis);
}

void check_index_values(const char* op, const std::vector<int64_t>& values, int64_t n, const Tensor& x) {
    for (size_t i = 0; i < values.size(); ++i)
        if (values[i] < 0 || values[i] >= n)
            fail(op, "index {} at position {} is out of range for {} (expected 0 <= index < {})", values[i], i,
                 x.describe(), n);
}

void check_indices(const char* op, const Tensor& index, int64_t n, const Tensor& x) {
    if (index.dtype() != DType::Int64) fail(op, "index must be int64, got {}", index.describe());
    if (index.device() != x.device())
        fail(op, "index is on {} but the tensor is on {} (expected the same device)", to_string(index.device()),
             to_string(x.device()));
    // On a GPU, reading the indices here would synchronise every op: the gather and scatter kernels
    // check them instead, and the host reports a bad one at the next synchronisation
    // (cuda/index_errors.h).
    if (index.device().is_cpu()) check_index_values(op, index.to_vector<int64_t>(), n, x);
}

namespace {
// y = x gathered per `spec`;   dL/dx += scatter-add of dL/dy through the same indices
Tensor gather_op(const char* op, const char* formula, const Tensor& x, const Tensor& index,
                 const Backend::GatherSpec& spec, const Shape& y_shape) {
    Tensor y = empty_like(x, y_shape);
    kernels(x).gather(x, index, spec, y);
    record(op, formula, {x}, y, [index, spec](const Tensor& gy, InputGrads& gx) {
        kernels(gy).scatter_add(gy, index, spec, gx.out(0, InputGrads::Writes::Part).grad);
    });
    return y;
}
}  // namespace

Tensor index_select(const Tensor& x, int axis, const Tensor& index) {
    check_defined("index_select", {x, index});
    check_floating("index_select", x);
    axis = normalize_axis("index_select", axis, x.dim());
    if (index.dim() != 1) fail("index_select", "index must be 1-D, got {}", index.describe());
    check_indices("index_select", index, x.shape()[axis], x);
    AxisSplit s = split_at_axis(x.shape(), axis);
    Shape y_shape = x.shape();
    y_shape[axis] = index.numel();
    return gather_op("index_select", "dL/dx[.., index[j], ..] += dL/dy[.., j, ..]", x, index, {s.outer, s.n, s.inner, index.numel(), 0, 1, 0, "index_select"}, y_shape);
}

Tensor gather(const Tensor& x, int axis, const Tensor& index) {
    check_defined("gather", {x, index});
    check_floating("gather", x);
    axis = normalize_axis("gather", axis, x.dim());
    Shape expected = x.shape();
    expected.erase(expected.begin() + axis);
    if (index.shape() != expected)
        fail("gather", "index is {} but x is {} (index must have x's shape without dim {}: {})",
             to_string(index.shape()), to_string(x.shape()), axis, to_string(expected));
    check_indices("gather", index, x.shape()[axis], x);
    AxisSplit s = split_at_axis(x.shape(), axis);
    return gather_op("gather", "dL/dx[.., index[..], ..] += dL/dy[..]", x, index, {s.outer, s.n, s.inner, 1, s.inner, 0, 1, "gather"}, expected);
}

namespace {
// Copies all of `src` into `dst` (same shape and dtype), whatever devices they are on.
void copy_across_devices(const Tensor& src, Tensor& dst) {
    size_t bytes = src.numel() * dtype_size(src.dtype());
    if (src.device().is_cpu()) {
        backend_for(dst.device()).copy_from_host(dst.raw_data(), src.raw_data(), bytes);
    } else if (dst.device().is_cpu()) {
        backend_for(src.device()).copy_to_host(dst.raw_data(), src.raw_data(), bytes);
    } else {
        std::vector<char> staging(bytes);
        backend_for(src.device()).copy_to_host(staging.data(), src.raw_data(), bytes);
        backend_for(dst.device()).copy_from_host(dst.raw_data(), staging.data(), bytes);
    }
}
}  // namespace

// y = x on another device;   dL/dx += dL/dy copied back
Tensor to(const Tensor& x, Device device) {
    check_defined("to_device", {x});
    if (x.device() == device) return x;
    Tensor y = Tensor::empty(x.shape(), x.dtype(), device);
    copy_across_devices(x, y);
    const Device from = x.device();
    record("to_device", "dL/dx += dL/dy copied to x's device", {x}, y, [from](const Tensor& gy, InputGrads& gx) {
        Tensor back = Tensor::empty(gy.shape(), gy.dtype(), from);
        copy_across_devices(gy, back);
        gx.add(0, back);
    });
    return y;
}

// y = x converted to dtype;   dL/dx += dL/dy converted back
Tensor to(const Tensor& x, DType dtype) {
    check_defined("to_dtype", {x});
    if (x.dtype() == dtype) return x;
    check_floating("to_dtype", x);
    if (!is_floating(dtype)) fail("to_dtype", "cannot convert {} to {} (only float32 <-> float64)", x.describe(), to_string(dtype));
    Tensor y = Tensor::empty(x.shape(), dtype, x.device());
    kernels(x).cast(x, y);
    const DType from = x.dtype();
    record("to_dtype", "dL/dx += dL/dy converted to x's dtype", {x}, y, [from](const Tensor& gy, InputGrads& gx) {
        Tensor back = Tensor::empty(gy.shape(), from, gy.device());
        kernels(gy).cast(gy, back);
        gx.add(0, back);
    });
    return y;
}

}  // namespace tapegrad
