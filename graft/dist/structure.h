// graft/dist/structure.h: do all ranks hold the same model?
//
//   dist::check_structure(comm, {&model.store(), &adam.store()}, "at start");
//   // ... every rank runs the same growth event ...
//   dist::check_structure(comm, {&model.store(), &adam.store()}, "after growth event 1");
//
// The structure of a set of stores is the sorted list of (path, shape, dtype,
// trainable) of every live variable (model weights and optimizer slots when
// the optimizer's store is passed); its hash is 64-bit FNV-1a over that list's
// text. check_structure compares the hashes of all ranks (one allgather of 8
// bytes); when they differ it gathers the lists and throws StructureError on
// every rank with the same message, naming the first path (in sorted order)
// where a rank differs from rank 0 and what each rank has there:
//
//   graft::ValueError: dist: the ranks hold different models after growth event 1
//   (structure hash 3f2a... on rank 0, 91c0... on rank 1): first difference at 'mlp/layer_0/kernel'
//     rank 0: [784, 512] float32 trainable
//     rank 1: [784, 256] float32 trainable
//     help: every rank must build the same model and run the same growth events (same --hidden
//     and --grow everywhere); no gradient was exchanged
//
// It runs before any gradient collective, so a rank that grew differently
// fails fast instead of hanging or reducing mismatched buffers. Collective:
// every rank must call it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "graft/base/error.h"
#include "graft/dist/comm.h"
#include "graft/vars/store.h"

namespace graft::dist {

// Thrown on every rank at once when the ranks' structures differ.
class StructureError : public ValueError {
 public:
  using ValueError::ValueError;
};

// One variable as the structure check compares it.
struct StructureEntry {
  std::string path;  // the variable's path
  std::string description;  // "[784, 512] float32 trainable"
  friend bool operator==(const StructureEntry&, const StructureEntry&) = default;
};

// The live variables of `stores`, sorted by path.
std::vector<StructureEntry> structure_of(const std::vector<const VariableStore*>& stores);
// Variables and their shapes, dtypes and trainable flags, sorted by path.
std::vector<StructureEntry> structure_of_variables(const std::vector<Variable>& variables);
uint64_t structure_hash(const std::vector<StructureEntry>& structure);

// How a mismatch message words what differs. The defaults describe models;
// other lists of (key, description) entries (graft train's settings) say
// what they compare:
//   "dist: the ranks <differ> <when> (<hash_label> ...): first difference at '<key>'"
//   "  rank R: <description, or missing>"   ...   "  help: <help>"
struct MismatchWording {
  std::string differ = "hold different models";  // what the ranks do differently
  std::string hash_label = "structure hash";      // what the compared hashes are
  std::string missing = "no such variable";       // a rank without the key
  // The help line: what to do.
  std::string help =
      "every rank must build the same model and run the same growth events (the same --hidden and --grow on "
      "every rank); no gradient was exchanged";
};

// Throws StructureError, on every rank, unless every rank passed an equal
// `structure` (entries sorted by path). `when` says which check this is
// ("at start").
void check_structure(const Comm& comm, const std::vector<StructureEntry>& structure, std::string_view when,
                     const MismatchWording& wording = {});
void check_structure(const Comm& comm, const std::vector<const VariableStore*>& stores, std::string_view when);

// The message check_structure throws for these per-rank structures ("" when
// they all agree). Exposed for tests.
std::string describe_mismatch(const std::vector<std::vector<StructureEntry>>& per_rank, std::string_view when,
                              const MismatchWording& wording = {});

}  // namespace graft::dist
