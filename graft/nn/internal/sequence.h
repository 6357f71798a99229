// graft/nn/internal/sequence.h: picking one index along an axis and stacking
// steps, composed from differentiable ops (mul by a one-hot mask, sum).
// Not a public header.
//
// TODO(issue 3): use slice and concat ops when graft/ops has them; the masks
// cost O(n) per pick instead of O(1).
#pragma once

#include <vector>

#include "graft/tensor/tensor.h"

namespace graft::nn::internal {

// x with `axis` removed, taking entry `index` along it (x[:, index, :] for
// axis 1 of a rank-3 tensor).
Tensor select(const Tensor& x, int axis, int64_t index);

// Stacks equally shaped tensors along a new `axis` (inverse of select).
Tensor stack(const std::vector<Tensor>& parts, int axis);

}  // namespace graft::nn::internal
