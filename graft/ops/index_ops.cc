// Ops that move boxes and rows of a tensor: concat, slice and its adjoint pad,
// gather and its adjoint scatter_add, one_hot. The copies are byte moves of
// whole rows, so one kernel serves every dtype.
#include <algorithm>
#include <cstring>
#include <string>

#include "graft/base/checked_size.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {

void check_index_range(const OpDef& def, const Tensor& indices, int64_t size, std::string_view noun,
                       std::string_view range) {
  const int64_t* p = indices.data<int64_t>();
  const int64_t n = indices.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] >= 0 && p[i] < size) [[likely]] continue;
    // Position as a multi-index of the indices tensor.
    std::string position = "[";
    Dims strides = indices.shape().strides();
    for (int d = 0; d < indices.rank(); ++d) {
      position += (d ? ", " : "") + std::to_string((i / strides[d]) % indices.shape()[d]);
    }
    position += "]";
    ::graft::base::internal::throw_error<ValueError>(def.name, ": ", noun, " ", p[i], " at position ", position, " of ",
                                      indices.shape().to_string(), " is out of range for ", range, " (expected 0 <= ",
                                      noun, " < ", size, ")");
  }
}

namespace {

// Product of dims [from, to).
int64_t extent(const Shape& s, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; ++d) n *= s[d];
  return n;
}

// Copies the box of shape `box` at `src_begin` in `src` to `dst_begin` in
// `dst`, one contiguous row (the last axis) at a time.
void copy_box(const Tensor& src, const Dims& src_begin, const Tensor& dst, const Dims& dst_begin, const Shape& box) {
  const int rank = box.rank();
  const size_t esize = dtype_size(src.dtype());
  const char* ps = static_cast<const char*>(src.raw_data());
  char* pd = static_cast<char*>(dst.raw_data());
  if (box.numel() == 0) return;
  if (rank == 0) {
    std::memcpy(pd, ps, esize);
    return;
  }
  const Dims ss = src.shape().strides();
  const Dims ds = dst.shape().strides();
  const int64_t len = box[rank - 1];
  const int64_t rows = box.numel() / len;
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / len), [&](int64_t first, int64_t last) {
    int64_t index[kMaxRank] = {};
    int64_t rest = first;
    for (int d = rank - 2; d >= 0; --d) {
      index[d] = rest % box[d];
      rest /= box[d];
    }
    for (int64_t r = first; r < last; ++r) {
      int64_t so = src_begin[rank - 1];
      int64_t dof = dst_begin[rank - 1];
      for (int d = 0; d < rank - 1; ++d) {
        so += (src_begin[d] + index[d]) * ss[d];
        dof += (dst_begin[d] + index[d]) * ds[d];
      }
      std::memcpy(pd + dof * esize, ps + so * esize, static_cast<size_t>(len) * esize);
      for (int d = rank - 2; d >= 0; --d) {
        if (++index[d] < box[d]) break;
        index[d] = 0;
      }
    }
  });
}

Dims zeros_dims(int rank) {
  Dims d;
  d.resize(rank);
  return d;
}

// The slice op on a normalised box (the public slice() takes begin/end).
Tensor slice_box(const Tensor& x, const Dims& begin, const Shape& extent) {
  OpAttrs attrs;
  attrs.begin = begin;
  attrs.shape = extent;
  return apply(OpKind::kSlice, {x}, attrs);
}

// The pad op: x placed at `begin` in a zero tensor of `shape`.
Tensor pad_box(const Tensor& x, const Dims& begin, const Shape& shape) {
  OpAttrs attrs;
  attrs.begin = begin;
  attrs.shape = shape;
  return apply(OpKind::kPad, {x}, attrs);
}

// Checks that `begin` + `box` fits inside `outer` on every axis.
void check_box(const OpDef& def, const Dims& begin, const Shape& box, const Shape& outer, std::string_view box_what,
               std::string_view outer_what) {
  GRAFT_CHECK_AS(ShapeError, begin.size() == outer.rank() && box.rank() == outer.rank(), def.name, ": ", box_what,
                 " ", box.to_string(), " at offset ", Shape(begin).to_string(), " does not match the rank of ",
                 outer_what, " ", outer.to_string());
  for (int d = 0; d < outer.rank(); ++d) {
    GRAFT_CHECK_AS(ShapeError, begin[d] >= 0 && begin[d] + box[d] <= outer[d], def.name, ": ", box_what, " ",
                   box.to_string(), " at offset ", Shape(begin).to_string(), " does not fit in ", outer_what, " ",
                   outer.to_string(), " (axis ", d, ")");
  }
}

}  // namespace

// --- concat ----------------------------------------------------------------

TensorMeta infer_concat(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  GRAFT_CHECK(!in.empty(), def.name, ": expected at least one tensor, got none");
  check_same_dtype(def, in);
  const Shape& first = in[0].shape();
  GRAFT_CHECK_AS(ShapeError, first.rank() >= 1, def.name, ": cannot join 0-d tensors\n  help: reshape them to [1]");
  const int axis = normalize_axis(attrs.axis, first.rank(), def.name);
  Shape out = first;
  for (size_t i = 1; i < in.size(); ++i) {
    const Shape& s = in[i].shape();
    bool fits = s.rank() == first.rank();
    for (int d = 0; fits && d < s.rank(); ++d) fits = d == axis || s[d] == first[d];
    GRAFT_CHECK_AS(ShapeError, fits, def.name, ": input 0 has shape ", first.to_string(), " but input ", i,
                   " has shape ", s.to_string(), "; every dimension but axis ", attrs.axis, " must match");
    std::optional<int64_t> joined = checked_add(out[axis], s[axis]);
    GRAFT_CHECK_AS(ShapeError, joined.has_value(), def.name, ": joining ", in.size(),
                   " tensors along axis ", attrs.axis, " overflows int64 at input ", i, " of shape ", s.to_string());
    out.set_dim(axis, *joined);
  }
  return {out, in[0].dtype()};
}

void concat_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const int axis = normalize_axis(attrs.axis, out.rank(), "concat");
  const size_t esize = dtype_size(out.dtype());
  // Each input is [outer, chunk_i] and the output [outer, sum of chunk_i].
  const int64_t outer = extent(out.shape(), 0, axis);
  const int64_t out_chunk = extent(out.shape(), axis, out.rank());
  char* po = static_cast<char*>(out.raw_data());
  int64_t offset = 0;
  for (const Tensor& x : in) {
    const int64_t chunk = extent(x.shape(), axis, x.rank());
    if (chunk > 0) {
      const char* px = static_cast<const char*>(x.raw_data());
      parallel_for(0, outer, std::max<int64_t>(1, kParallelGrain / chunk), [&](int64_t first, int64_t last) {
        for (int64_t o = first; o < last; ++o) {
          std::memcpy(po + (o * out_chunk + offset) * esize, px + o * chunk * esize, static_cast<size_t>(chunk) * esize);
        }
      });
    }
    offset += chunk;
  }
}

// Each input's gradient is its slice of the output gradient.
void concat_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const int axis = normalize_axis(c.attrs.axis, c.output.rank(), "concat");
  Dims begin = zeros_dims(c.output.rank());
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    grad[i] = slice_box(c.grad_output, begin, c.inputs[i].shape());
    begin[axis] += c.inputs[i].dim(axis);
  }
}

// --- slice and pad ---------------------------------------------------------

TensorMeta infer_slice(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_box(def, attrs.begin, attrs.shape, in[0].shape(), "box", "input");
  return {attrs.shape, in[0].dtype()};
}

void slice_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  copy_box(in[0], attrs.begin, out, zeros_dims(out.rank()), out.shape());
}

// The gradient of a slice is the output gradient padded back to x's shape.
void slice_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = pad_box(c.grad_output, c.attrs.begin, c.inputs[0].shape());
}

TensorMeta infer_pad(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_box(def, attrs.begin, in[0].shape(), attrs.shape, "input", "output");
  return {attrs.shape, in[0].dtype()};
}

void pad_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  if (out.nbytes() > 0) std::memset(out.raw_data(), 0, out.nbytes());  // zero bits are 0 in every dtype
  copy_box(in[0], zeros_dims(out.rank()), out, attrs.begin, in[0].shape());
}

// The gradient of a pad is the box of the output gradient where x sat.
void pad_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = slice_box(c.grad_output, c.attrs.begin, c.inputs[0].shape());
}

// --- gather and scatter_add ------------------------------------------------

namespace {

void check_int64_indices(const OpDef& def, const Tensor& indices, int input) {
  GRAFT_CHECK_AS(DTypeError, indices.dtype() == DType::kInt64, def.name, ": input ", input,
                 " (the indices) must be int64, got ", dtype_name(indices.dtype()), " of shape ",
                 indices.shape().to_string(), "\n  help: cast(indices, DType::kInt64)");
}

// x.shape[:axis] + indices.shape + x.shape[axis+1:]; ShapeError past kMaxRank.
Shape gathered_shape(const OpDef& def, const Shape& x, const Shape& indices, int axis) {
  GRAFT_CHECK_AS(ShapeError, x.rank() - 1 + indices.rank() <= kMaxRank, def.name, ": indices ", indices.to_string(),
                 " into ", x.to_string(), " would give rank ", x.rank() - 1 + indices.rank(), ", above ", kMaxRank);
  Dims dims;
  for (int d = 0; d < axis; ++d) dims.push_back(x[d]);
  for (int64_t d : indices) dims.push_back(d);
  for (int d = axis + 1; d < x.rank(); ++d) dims.push_back(x[d]);
  return Shape(dims);
}

std::string axis_range(int64_t axis, const Shape& shape, std::string_view what) {
  return ::graft::base::internal::str("axis ", axis, " of ", what, " ", shape.to_string());
}

}  // namespace

TensorMeta infer_gather(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_int64_indices(def, in[1], 1);
  GRAFT_CHECK_AS(ShapeError, in[0].rank() >= 1, def.name, ": cannot gather from a 0-d tensor");
  const int axis = normalize_axis(attrs.axis, in[0].rank(), def.name);
  return {gathered_shape(def, in[0].shape(), in[1].shape(), axis), in[0].dtype()};
}

void gather_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const OpDef& def = op_def(OpKind::kGather);
  const Shape& shape = in[0].shape();
  const int axis = normalize_axis(attrs.axis, shape.rank(), def.name);
  check_index_range(def, in[1], shape[axis], "index", axis_range(attrs.axis, shape, "x"));
  // x is [outer, n, inner], out [outer, m, inner]: copy row idx[j] to row j.
  const int64_t outer = extent(shape, 0, axis), n = shape[axis], inner = extent(shape, axis + 1, shape.rank());
  const int64_t m = in[1].numel();
  const int64_t* idx = in[1].data<int64_t>();
  const size_t esize = dtype_size(out.dtype());
  const size_t row_bytes = static_cast<size_t>(inner) * esize;
  const char* px = static_cast<const char*>(in[0].raw_data());
  char* po = static_cast<char*>(out.raw_data());
  if (row_bytes == 0) return;
  parallel_for(0, outer * m, std::max<int64_t>(1, kParallelGrain / inner), [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      const int64_t o = r / m, j = r % m;
      std::memcpy(po + r * row_bytes, px + (o * n + idx[j]) * row_bytes, row_bytes);
    }
  });
}

void gather_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = scatter_add(c.grad_output, c.inputs[1], c.inputs[0].shape(), c.attrs.axis);
}

TensorMeta infer_scatter_add(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_int64_indices(def, in[1], 1);
  GRAFT_CHECK_AS(ShapeError, attrs.shape.rank() >= 1, def.name, ": cannot scatter into a 0-d tensor");
  const int axis = normalize_axis(attrs.axis, attrs.shape.rank(), def.name);
  Shape expected = gathered_shape(def, attrs.shape, in[1].shape(), axis);
  GRAFT_CHECK_AS(ShapeError, in[0].shape() == expected, def.name, ": updates have shape ", in[0].shape().to_string(),
                 " but scattering indices ", in[1].shape().to_string(), " into ", attrs.shape.to_string(),
                 " along axis ", attrs.axis, " needs updates of shape ", expected.to_string());
  return {attrs.shape, in[0].dtype()};
}

void scatter_add_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const OpDef& def = op_def(OpKind::kScatterAdd);
  const Shape& shape = out.shape();
  const int axis = normalize_axis(attrs.axis, shape.rank(), def.name);
  check_index_range(def, in[1], shape[axis], "index", axis_range(attrs.axis, shape, "the output"));
  const int64_t outer = extent(shape, 0, axis), n = shape[axis], inner = extent(shape, axis + 1, shape.rank());
  const int64_t m = in[1].numel();
  const int64_t* idx = in[1].data<int64_t>();
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    const T* pu = in[0].data<T>();
    T* po = out.data<T>();
    std::fill(po, po + out.numel(), T(0));
    // Threads own disjoint column ranges of the inner block, so repeated
    // indices never race.
    const int64_t work = std::max<int64_t>(1, outer * m);
    parallel_for(0, inner, std::max<int64_t>(1, kParallelGrain / work), [&](int64_t k0, int64_t k1) {
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < m; ++j) {
          T* dst = po + (o * n + idx[j]) * inner;
          const T* src = pu + (o * m + j) * inner;
          for (int64_t k = k0; k < k1; ++k) dst[k] += src[k];
        }
      }
    });
  });
}

void scatter_add_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = gather(c.grad_output, c.inputs[1], c.attrs.axis);
}

// --- one_hot ---------------------------------------------------------------

TensorMeta infer_one_hot(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_int64_indices(def, in[0], 0);
  GRAFT_CHECK(attrs.depth >= 0, def.name, ": depth must be >= 0, got ", attrs.depth);
  GRAFT_CHECK_AS(ShapeError, in[0].rank() < kMaxRank, def.name, ": indices of shape ", in[0].shape().to_string(),
                 " would give rank ", in[0].rank() + 1, ", above ", kMaxRank);
  Dims dims(in[0].shape().dims());
  dims.push_back(attrs.depth);
  return {Shape(dims), attrs.dtype};
}

void one_hot_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const OpDef& def = op_def(OpKind::kOneHot);
  check_index_range(def, in[0], attrs.depth, "index", ::graft::base::internal::str("depth ", attrs.depth));
  const int64_t* idx = in[0].data<int64_t>();
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    T* po = out.data<T>();
    std::fill(po, po + out.numel(), T(0));
    for (int64_t i = 0, n = in[0].numel(); i < n; ++i) po[i * attrs.depth + idx[i]] = T(1);
  });
}

}  // namespace graft::ops::internal
