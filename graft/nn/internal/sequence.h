// graft/nn/internal/sequence.h: picking one index along an axis and stacking
// steps (for LSTM gates and time steps), from slice, reshape and concat.
// Not a public header.
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
