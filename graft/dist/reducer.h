// graft/dist/reducer.h: gradients averaged over the ranks in fused buckets.
//
//   dist::GradientReducer reducer(dist::Comm::world());
//   GradientTape tape;
//   Tensor loss = mean(sparse_softmax_cross_entropy(model(x), y));
//   auto vars = model.trainable_variables();
//   auto grads = reducer.average(vars, tape.gradient(loss, vars));   // eager or compiled
//   adam.apply_gradients(vars, grads);
//
// Buckets: the gradients are ordered by their variables' paths (never by
// creation order, list order or address, so every rank builds the same plan)
// and packed into buckets of at most bucket_bytes (a larger gradient is a
// bucket of its own); each bucket is one MPI_Allreduce of the gradients
// divided by the number of ranks. The plan is rebuilt when the list of variables, their
// shapes or which of them have gradients changes (a growth event); each
// rebuild first checks that every rank has the same gradient list
// (dist::StructureError otherwise, graft/dist/structure.h), so mismatched
// buckets never reach MPI.
//
// Eager code: one pass copies each gradient, divided by the number of ranks,
// into the bucket's buffer, which MPI sums in place (the same work as a raw
// MPI_Allreduce of separate buffers, which copies its input to its output
// first); the results are views of the reduced bucket (no copy out).
// Inside graft::function: each bucket is a non-trainable variable of this
// reducer's store; the captured step packs the gradients into it, a host call
// (graft/ops/dispatch.h) reduces it in place at every replay, and the step
// reads the averages back. A rebuilt plan creates new bucket variables, so
// the store's epoch moves and compiled steps recapture.
//
// With one rank, average() returns the gradients as they are. Missing
// gradients stay missing (every rank must miss the same ones). Collective:
// every rank calls average() with the same variables. Not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graft/dist/comm.h"
#include "graft/vars/store.h"

namespace graft::dist {

// GradientReducer's settings.
class ReducerOptions {
 public:
  // Gradients are packed into buckets of about this many bytes, each summed
  // in one allreduce (default 4 MiB).
  ReducerOptions& bucket_bytes(size_t bytes) { bucket_bytes_ = bytes; return *this; }
  // The reducer's store name (the first component of its bucket variables).
  ReducerOptions& name(std::string n) { name_ = std::move(n); return *this; }

  // The values set above, or their defaults.
  size_t bucket_bytes() const { return bucket_bytes_; }
  const std::string& name() const { return name_; }

 private:
  size_t bucket_bytes_ = size_t{4} << 20;
  std::string name_ = "dist_reducer";
};

// Averages gradients over the ranks of a Comm, bucketed (header comment).
class GradientReducer {
 public:
  // `comm` must outlive the reducer and every graph captured through it.
  explicit GradientReducer(const Comm& comm, ReducerOptions options = {});
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // grads[i] (for vars[i]) averaged over the ranks. Throws ValueError when the
  // lists differ in length, ShapeError when a gradient's shape is not its
  // variable's, DTypeError for a gradient that is not float32 or float64,
  // StructureError when the ranks' lists differ.
  std::vector<std::optional<Tensor>> average(const std::vector<Variable>& vars,
                                             const std::vector<std::optional<Tensor>>& grads);

  // Buckets of the current plan, and how many plans were built so far.
  size_t bucket_count() const;
  int plans_built() const { return plans_built_; }
  // One line per bucket: its size and its variables' paths, in order.
  std::string describe() const;
  // Holds the bucket variables of compiled steps.
  VariableStore& store() { return store_; }

 private:
  struct Bucket;
  struct Plan;
  Plan& plan_for(const std::vector<Variable>& vars, const std::vector<std::optional<Tensor>>& grads);
  void reduce_eager(Bucket& bucket, const std::vector<std::optional<Tensor>>& grads,
                    std::vector<std::optional<Tensor>>& out);
  void reduce_captured(Bucket& bucket, const std::vector<std::optional<Tensor>>& grads,
                       std::vector<std::optional<Tensor>>& out);

  const Comm& comm_;
  ReducerOptions options_;
  VariableStore store_;
  std::unique_ptr<Plan> plan_;
  int plans_built_ = 0;
};

}  // namespace graft::dist
