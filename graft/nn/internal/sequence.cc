#include "graft/nn/internal/sequence.h"

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::nn::internal {
namespace {

// A tensor of `rank` ones-sized dimensions except `n` at `axis`, holding 1 at
// `index` and 0 elsewhere.
Tensor one_hot_along(int rank, int axis, int64_t n, int64_t index, DType dtype) {
  std::vector<int64_t> dims(static_cast<size_t>(rank), 1);
  dims[static_cast<size_t>(axis)] = n;
  Tensor mask = Tensor::empty(Shape(std::span<const int64_t>(dims)), dtype);
  visit_dtype(dtype, [&]<typename T>(T) {
    T* m = mask.data<T>();
    for (int64_t i = 0; i < n; ++i) m[i] = i == index ? T(1) : T(0);
  });
  return mask;
}

}  // namespace

Tensor select(const Tensor& x, int axis, int64_t index) {
  GRAFT_INTERNAL_ASSERT(axis >= 0 && axis < x.rank() && index >= 0 && index < x.shape()[axis]);
  return sum(x * one_hot_along(x.rank(), axis, x.shape()[axis], index, x.dtype()), {axis});
}

Tensor stack(const std::vector<Tensor>& parts, int axis) {
  GRAFT_INTERNAL_ASSERT(!parts.empty());
  const Shape& part_shape = parts[0].shape();
  std::vector<int64_t> dims(part_shape.begin(), part_shape.end());
  dims.insert(dims.begin() + axis, 1);
  const Shape expanded{std::span<const int64_t>(dims)};
  const int64_t n = static_cast<int64_t>(parts.size());
  Tensor out;
  for (int64_t i = 0; i < n; ++i) {
    Tensor term = reshape(parts[static_cast<size_t>(i)], expanded) *
                  one_hot_along(expanded.rank(), axis, n, i, parts[0].dtype());
    out = i == 0 ? term : out + term;
  }
  return out;
}

}  // namespace graft::nn::internal
