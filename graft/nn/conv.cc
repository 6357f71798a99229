#include "graft/nn/conv.h"

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::nn {
// --- Flatten -----------------------------------------------------------------

Tensor Flatten::forward(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() >= 2, "Flatten '", path(), "' expected an input of rank >= 2 ([batch, ...]), "
                 "received shape ", x.shape().to_string(), "\n  help: add a batch dimension first");
  ensure_built(x);
  return reshape(x, {x.dim(0), -1});
}

}  // namespace graft::nn
