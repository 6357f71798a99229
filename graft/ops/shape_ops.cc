// Shape ops: reshape (a view), permute, broadcast_to.
#include <cstring>

#include "graft/ops/internal/broadcast.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"

namespace graft::ops::internal {

TensorMeta infer_reshape(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  GRAFT_CHECK_AS(ShapeError, in[0].numel() == attrs.shape.numel(), def.name, ": cannot reshape ",
                 in[0].shape().to_string(), " (", in[0].numel(), " elements) to ", attrs.shape.to_string(),
                 " (", attrs.shape.numel(), " elements)");
  return {attrs.shape, in[0].dtype()};
}

void reshape_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = reshape(c.grad_output, c.inputs[0].shape()); }

TensorMeta infer_permute(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  const Shape& shape = in[0].shape();
  GRAFT_CHECK_AS(ShapeError, attrs.axes.size() == shape.rank(), def.name, ": permutation of ", attrs.axes.size(),
                 " axes given for a tensor of shape ", shape.to_string());
  bool seen[kMaxRank] = {};
  Dims dims;
  for (int64_t axis : attrs.axes) {
    int a = normalize_axis(axis, shape.rank(), def.name);
    GRAFT_CHECK_AS(ShapeError, !seen[a], def.name, ": axis ", axis, " appears twice in the permutation");
    seen[a] = true;
    dims.push_back(shape[a]);
  }
  return {Shape(dims), in[0].dtype()};
}

void permute_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const Shape& in_shape = in[0].shape();
  const int rank = in_shape.rank();
  Dims in_strides = in_shape.strides();
  // The input stride of each output axis.
  Shape out_shape = out.shape();
  Dims strides;
  for (int64_t axis : attrs.axes) strides.push_back(in_strides[normalize_axis(axis, rank, "permute")]);
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    const T* px = in[0].data<T>();
    T* po = out.data<T>();
    if (rank == 2) {
      // Blocked transpose.
      constexpr int64_t kBlock = 32;
      int64_t rows = out_shape[0], cols = out_shape[1];
      for (int64_t i0 = 0; i0 < rows; i0 += kBlock) {
        for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
          for (int64_t i = i0; i < std::min(rows, i0 + kBlock); ++i) {
            for (int64_t j = j0; j < std::min(cols, j0 + kBlock); ++j) po[i * cols + j] = px[i * strides[0] + j * strides[1]];
          }
        }
      }
      return;
    }
    Dims index;
    index.resize(rank);
    int64_t offset = 0;
    const int64_t n = out.numel();
    for (int64_t i = 0; i < n; ++i) {
      po[i] = px[offset];
      for (int d = rank - 1; d >= 0; --d) {
        ++index[d];
        offset += strides[d];
        if (index[d] < out_shape[d]) break;
        offset -= strides[d] * out_shape[d];
        index[d] = 0;
      }
    }
  });
}

void permute_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const int rank = c.inputs[0].rank();
  Dims inverse;
  inverse.resize(rank);
  for (int i = 0; i < rank; ++i) inverse[normalize_axis(c.attrs.axes[i], rank, "permute")] = i;
  grad[0] = permute(c.grad_output, inverse);
}

TensorMeta infer_broadcast_to(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  Shape shape = broadcast_shapes(def, in[0].shape(), attrs.shape);
  GRAFT_CHECK_AS(ShapeError, shape == attrs.shape, def.name, ": cannot broadcast ", in[0].shape().to_string(),
                 " to ", attrs.shape.to_string());
  return {attrs.shape, in[0].dtype()};
}

void broadcast_to_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    const T* px = in[0].data<T>();
    T* po = out.data<T>();
    for_each_broadcast_row<1>(out.shape(), {&in[0].shape()},
                              [=](int64_t o, std::array<int64_t, 1> off, std::array<int64_t, 1> step, int64_t len) {
                                if (step[0] == 1) {
                                  std::memcpy(po + o, px + off[0], static_cast<size_t>(len) * sizeof(T));
                                } else {
                                  std::fill(po + o, po + o + len, px[off[0]]);
                                }
                              });
  });
}

void broadcast_to_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = sum_to(c.grad_output, c.inputs[0].shape());
}

}  // namespace graft::ops::internal
