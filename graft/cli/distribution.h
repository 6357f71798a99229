// graft/cli/distribution.h: what `graft train` does differently when mpirun
// starts it on several ranks (graft/dist), and nothing when it runs alone.
//
//   Distribution dist = Distribution::detect();   // MPI only under a launcher
//   BatchOptions(batch).shard(dist.rank(), dist.size());
//   dist.check_settings({{"--lr", "0.001"}, ...}, "at start");   // the same flags everywhere
//   dist.sync(model.store(), optimizer, "at start");
//   grads = dist.average(vars, grads);            // inside the (compiled) step
//   dist.grow(model.store(), &optimizer, "at growth event 1", [&] { edit(...); });
//   dist.average_statistics(model.store(), "before evaluation");  // and before saving
//   dist.save(path, stores, metadata);            // rank 0 writes
//
// detect() starts MPI only when an MPI launcher started this process (it
// sets OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK), so a plain `graft train`
// never touches MPI, and a build without MPI (graft/dist not built) always
// runs alone. Each rank builds its model from its own flags: nothing is
// broadcast that would hide a difference; sync() and grow() check the
// structure and fail on every rank with the first differing path.
//
// Every call but rank(), size(), distributed() and abort() is collective when
// distributed. Not thread-safe.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "graft/io/safetensors.h"
#include "graft/optim/optimizer.h"

namespace graft::cli {

class Distribution {
 public:
  static Distribution detect();
  // One process, no MPI.
  Distribution();
  ~Distribution();
  Distribution(Distribution&&) noexcept;
  Distribution& operator=(Distribution&&) noexcept;

  bool distributed() const { return size_ > 1; }
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  // Ranks started on this machine (threads per rank default to cores / this).
  int local_size() const { return local_size_; }

  // Throws dist::StructureError on every rank unless every rank passed the
  // same (flag, value) list, naming the first flag that differs and each
  // rank's value (nothing alone). `when`: "at start", "on resume".
  void check_settings(const std::vector<std::pair<std::string, std::string>>& settings, std::string_view when);
  // dist::sync: the structure check, then rank 0's values everywhere.
  void sync(VariableStore& model, optim::Optimizer& optimizer, std::string_view when);
  // dist::GradientReducer::average (the gradients as they are alone).
  std::vector<std::optional<Tensor>> average(const std::vector<Variable>& vars,
                                             const std::vector<std::optional<Tensor>>& grads);
  // dist::collective_growth (just `edit` alone).
  void grow(VariableStore& model, optim::Optimizer* optimizer, std::string_view when, const std::function<void()>& edit);
  // dist::average_statistics: a BatchNorm's running statistics (each rank's
  // follow its own shard) averaged over the ranks (nothing alone).
  void average_statistics(VariableStore& model, std::string_view when);
  // dist::save_checkpoint (io::save_checkpoint alone).
  void save(const std::string& path, const std::vector<const VariableStore*>& stores, const io::Metadata& metadata);
  // Whether `flag` is true on any rank (an interrupt seen by one rank stops all).
  bool any(bool flag);
  // Ends every rank with `code`: for an error only this rank may have seen.
  [[noreturn]] void abort(int code);
  // Called with an error on its way out of the run: when distributed and
  // `error` is not one every rank throws together (dist::StructureError),
  // prints it to stderr, naming this rank, and ends the job (abort(1)), so
  // no other rank waits forever in a collective. Returns otherwise.
  void fail(const std::exception& error);

 private:
  struct State;
  std::unique_ptr<State> state_;
  int rank_ = 0;
  int size_ = 1;
  int local_size_ = 1;
};

}  // namespace graft::cli
