// graft/io/internal/restore_entry.h: the one decision restore makes for each
// saved entry (after the key map chose its target): transpose, dtype, shape
// and the transform hook. restore_tensors, diff_safetensors and the
// checkpoint layer's deferred restores all call it, so a key restored now
// and one restored when its variable is created meet the same rules.
// Not for library users.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "graft/io/restore.h"

namespace graft::io::internal {

// One target: a tensor to restore into, or (for a diff) its name, shape and
// dtype alone.
struct RestoreTarget {
  std::string name;
  std::vector<int64_t> shape;
  std::optional<DType> dtype;  // the graft dtype it holds (nullopt: none graft loads)
  std::string dtype_name;      // as a file would store it ("F32")
  const Tensor* tensor = nullptr;  // null in a diff: the transform hook is not consulted
};

RestoreTarget restore_target(const std::string& name, const Tensor& tensor);

// Fills `e` (whose key is `saved`'s) for `saved` going to `target`: status
// (matched, shape or dtype mismatch), shapes, dtypes, transposed,
// transformed, and the detail of a mismatch. `transpose` comes from the key
// map and needs a 2-D entry. A value the transform hook produced is
// returned; a plain match returns nullopt (load it with load_entry). Throws
// ValueError when the hook returns a tensor of another shape or dtype.
std::optional<Tensor> decide_entry(const SafetensorsFile& file, const TensorEntry& saved, bool transpose,
                                   const RestoreTarget& target, const TransformHook& transform, RestoreEntry& e);

// The saved tensor of `e`, transposed when `e.transposed`.
Tensor load_entry(const SafetensorsFile& file, const RestoreEntry& e);

// "[2, 3]".
std::string dims_string(const std::vector<int64_t>& dims);

}  // namespace graft::io::internal
