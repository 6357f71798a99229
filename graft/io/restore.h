// graft/io/restore.h: restore named tensors from a safetensors file by name,
// with a report of what matched; inspect and diff files.
//
//   SafetensorsFile file = SafetensorsFile::read("run3.safetensors");
//   RestoreReport report = restore_tensors(file, {{"dense/kernel", w}, {"dense/bias", b}});
//   std::cout << report.to_string();
//
//   // A PyTorch file: `layers.0.weight` [out, in] onto graft's `dense/kernel` [in, out].
//   auto map = [](std::string_view key) -> std::optional<MappedKey> {
//     if (key == "layers.0.weight") return MappedKey{"dense/kernel", /*transpose=*/true};
//     if (key == "layers.0.bias") return MappedKey{"dense/bias"};
//     return std::nullopt;  // reported as unexpected
//   };
//   restore_tensors(file, targets, RestoreOptions().key_map(map).strict(true));
//
// Every key of the file and every target ends in exactly one class:
//   matched         same shape and dtype (after mapping, transpose and the
//                   transform hook): the target receives the saved values
//   missing         a target no key maps to: left as it is (its initial value)
//   unexpected      a key that maps to no target
//   shape mismatch  / dtype mismatch: the target is left as it is
// Strict mode checks everything first and throws one IoError listing every
// offender; no target is written unless all are matched. The variables layer
// wraps this for whole models and optimizers.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "graft/io/safetensors.h"

namespace graft::io {

// What happened to one key or target (kCount: the number of statuses).
enum class RestoreStatus { kMatched, kMissing, kUnexpected, kShapeMismatch, kDTypeMismatch, kCount };

// "matched", "missing", "unexpected", "shape mismatch", "dtype mismatch".
std::string_view restore_status_name(RestoreStatus status);

// Where a key of the file goes: a target name, and whether to transpose a 2-D
// tensor on the way ([out, in] -> [in, out]).
struct MappedKey {
  std::string name;        // the target's name
  bool transpose = false;  // transpose a 2-D tensor on the way
};

// Maps a key of the file onto a target; nullopt makes the key unexpected.
using KeyMap = std::function<std::optional<MappedKey>(std::string_view key)>;

// Called for a key whose saved tensor (already transposed when asked) differs
// from its target in shape or dtype. Returns a tensor of the target's shape
// and dtype to copy in (for example the old kernel padded with the target's
// fresh values), or nullopt to report a mismatch. Returning another shape or
// dtype is a bug in the hook: restore throws ValueError.
using TransformHook = std::function<std::optional<Tensor>(std::string_view target_name, const Tensor& saved,
                                                          const Tensor& target)>;

// How restore_tensors() maps and checks keys.
class RestoreOptions {
 public:
  // Strict: anything but a full match throws IoError and writes nothing.
  RestoreOptions& strict(bool on) { strict_ = on; return *this; }
  // Maps the file's keys onto target names (identity when unset).
  RestoreOptions& key_map(KeyMap map) { key_map_ = std::move(map); return *this; }
  // Resolves shape and dtype mismatches (none when unset).
  RestoreOptions& transform(TransformHook hook) { transform_ = std::move(hook); return *this; }

  // The values set above, or their defaults.
  bool strict() const { return strict_; }
  const KeyMap& key_map() const { return key_map_; }
  const TransformHook& transform() const { return transform_; }

 private:
  bool strict_ = false;
  KeyMap key_map_;          // identity when empty
  TransformHook transform_;  // none when empty
};

// The fate of one key or target.
struct RestoreEntry {
  RestoreStatus status = RestoreStatus::kMatched;  // what happened
  std::string key;     // the file's key; empty for kMissing
  std::string target;  // the target's name; empty for kUnexpected
  std::vector<int64_t> file_shape;    // as stored (before any transpose)
  std::vector<int64_t> target_shape;  // empty for kUnexpected
  std::string file_dtype;    // "F32", ...; empty for kMissing
  std::string target_dtype;  // "F32", ...; empty for kUnexpected
  bool transposed = false;   // transposed on the way in
  bool transformed = false;  // the transform hook produced the value
  std::string detail;        // why, for mismatches
};

// What restore_tensors() did, key by key.
struct RestoreReport {
  std::string file;  // the file's name
  // File keys in header order, then the missing targets in target order.
  std::vector<RestoreEntry> entries;

  // Entries with `status`.
  size_t count(RestoreStatus status) const;
  // Whether every entry is kMatched.
  bool all_matched() const { return count(RestoreStatus::kMatched) == entries.size(); }
  // A summary line, then one line per entry.
  std::string to_string() const;
};

// Restores `targets` (name, tensor) from `file` as the header comment says,
// writing matched values with Tensor::copy_from. Throws IoError in strict mode
// when anything is not matched (nothing written), ValueError for duplicate
// target names or a hook that returns the wrong shape or dtype.
RestoreReport restore_tensors(const SafetensorsFile& file, const NamedTensors& targets,
                              const RestoreOptions& options = {});

// A target's name, shape and dtype, for diffs without tensors.
struct NamedShape {
  std::string name;              // the target's name
  std::vector<int64_t> shape;    // its shape
  DType dtype = DType::kFloat32;  // its dtype
};

// The report restore_tensors would give, without loading or writing anything.
// The transform hook is not consulted (it needs values), so a shape change it
// would handle shows as a mismatch; strict is ignored.
RestoreReport diff_safetensors(const SafetensorsFile& file, const std::vector<NamedShape>& targets,
                               const RestoreOptions& options = {});
// `file` as the saved side, `other`'s tensors as the targets.
RestoreReport diff_safetensors(const SafetensorsFile& file, const SafetensorsFile& other,
                               const RestoreOptions& options = {});

// A listing of the file: size, metadata, then each tensor's key, dtype, shape
// and element count, and the totals (what `graft inspect FILE` prints).
std::string inspect_safetensors(const SafetensorsFile& file);

}  // namespace graft::io
