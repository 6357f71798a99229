#include "graft/nn/internal/sequence.h"

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::nn::internal {
namespace {

// `shape` with a dimension of size 1 inserted at `axis`.
Shape with_unit_axis(const Shape& shape, int axis) {
  std::vector<int64_t> dims(shape.begin(), shape.end());
  dims.insert(dims.begin() + axis, 1);
  return Shape(std::span<const int64_t>(dims));
}

}  // namespace

Tensor select(const Tensor& x, int axis, int64_t index) {
  GRAFT_INTERNAL_ASSERT(axis >= 0 && axis < x.rank() && index >= 0 && index < x.shape()[axis]);
  Dims begin, end;
  std::vector<int64_t> kept;
  for (int d = 0; d < x.rank(); ++d) {
    begin.push_back(d == axis ? index : 0);
    end.push_back(d == axis ? index + 1 : x.shape()[d]);
    if (d != axis) kept.push_back(x.shape()[d]);
  }
  return reshape(slice(x, begin, end), Shape(std::span<const int64_t>(kept)));
}

Tensor stack(const std::vector<Tensor>& parts, int axis) {
  GRAFT_INTERNAL_ASSERT(!parts.empty());
  const Shape expanded = with_unit_axis(parts[0].shape(), axis);
  std::vector<Tensor> pieces;
  pieces.reserve(parts.size());
  for (const Tensor& p : parts) pieces.push_back(reshape(p, expanded));
  return concat(pieces, axis);
}

}  // namespace graft::nn::internal
