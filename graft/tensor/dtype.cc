#include "graft/tensor/dtype.h"

#include "graft/base/check.h"

namespace graft {

void throw_invalid_dtype(DType d, const char* where) {
  base::internal::throw_error<InternalError>(where, ": invalid DType value ", static_cast<int>(d),
                                       " (expected float32, float64 or int64)\n"
                                       "  help: this is a bug in graft or a corrupted value; please report it");
}

}  // namespace graft
