#include "graft/dist/sync.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <string>
#include <unordered_set>

#include "graft/dist/structure.h"
#include "graft/io/checkpoint.h"
#include "graft/ops/ops.h"

namespace graft::dist {
namespace {

std::vector<Variable> live_variables(const std::vector<VariableStore*>& stores) {
  std::vector<Variable> all;
  for (VariableStore* store : stores) {
    std::vector<Variable> vars = store->variables();
    all.insert(all.end(), vars.begin(), vars.end());
  }
  return all;
}

// Broadcasts the values of `vars` from rank 0 in path order (the same order
// on every rank, whatever the creation order).
void broadcast_values(const Comm& comm, std::vector<Variable> vars) {
  std::sort(vars.begin(), vars.end(), [](const Variable& a, const Variable& b) { return a.path() < b.path(); });
  for (const Variable& v : vars) {
    Tensor value = v.raw_value();
    comm.broadcast(value.raw_data(), value.nbytes(), 0);
    value.bump_version();
  }
}

// Every rank's outcome of a step that may have failed on some ranks only:
// rethrows this rank's error, or throws naming the ranks that failed.
void agree_on_failure(const Comm& comm, const std::exception_ptr& error, std::string_view what) {
  const std::vector<uint64_t> failed = comm.allgather(uint64_t{error ? 1u : 0u});
  if (error) std::rethrow_exception(error);
  std::string ranks;
  for (size_t r = 0; r < failed.size(); ++r) {
    if (failed[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
  }
  GRAFT_CHECK(ranks.empty(), "dist: ", what, " failed on rank ", ranks, " (that rank printed its error)",
              "\n  help: fix the cause reported by rank ", ranks, "; every rank stopped here so none waits forever");
}

}  // namespace

size_t sync(const Comm& comm, const std::vector<VariableStore*>& stores, std::string_view when) {
  std::vector<const VariableStore*> watched(stores.begin(), stores.end());
  check_structure(comm, watched, when);
  std::vector<Variable> vars = live_variables(stores);
  broadcast_values(comm, vars);
  return vars.size();
}

size_t sync(const Comm& comm, VariableStore& model, optim::Optimizer& optimizer, std::string_view when) {
  size_t n = sync(comm, std::vector<VariableStore*>{&model, &optimizer.store()}, when);
  int64_t iterations = optimizer.iterations();
  comm.broadcast(&iterations, sizeof iterations, 0);
  optimizer.set_iterations(iterations);
  return n;
}

uint64_t shared_seed(const Comm& comm, uint64_t seed) {
  comm.broadcast(&seed, sizeof seed, 0);
  return seed;
}

std::vector<std::string> collective_growth(const Comm& comm, VariableStore& model, optim::Optimizer* optimizer,
                                           std::string_view when, const std::function<void()>& edit) {
  std::vector<VariableStore*> stores{&model};
  if (optimizer != nullptr) stores.push_back(&optimizer->store());
  std::unordered_set<uint64_t> before;
  for (const Variable& v : live_variables(stores)) before.insert(v.id());

  std::exception_ptr error;
  try {
    edit();
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_failure(comm, error, "the growth step " + std::string(when));

  check_structure(comm, std::vector<const VariableStore*>(stores.begin(), stores.end()), when);
  std::vector<Variable> created;
  for (const Variable& v : live_variables(stores)) {
    if (!before.contains(v.id())) created.push_back(v);
  }
  broadcast_values(comm, created);
  std::vector<std::string> paths;
  for (const Variable& v : created) paths.push_back(v.path());
  std::sort(paths.begin(), paths.end());
  return paths;
}

size_t average_statistics(const Comm& comm, VariableStore& model, std::string_view when) {
  std::vector<Variable> stats;
  for (const Variable& v : model.variables()) {
    if (!v.trainable() && (v.dtype() == DType::kFloat32 || v.dtype() == DType::kFloat64)) stats.push_back(v);
  }
  check_structure(comm, structure_of_variables(stats), when);
  if (comm.size() == 1) return 0;
  std::sort(stats.begin(), stats.end(), [](const Variable& a, const Variable& b) { return a.path() < b.path(); });
  // Which of them differ: one allgather of every rank's value hashes.
  std::string hashes;
  for (const Variable& v : stats) {
    Tensor value = v.raw_value();
    const uint64_t h = std::hash<std::string_view>{}(
        std::string_view(static_cast<const char*>(value.raw_data()), value.nbytes()));
    hashes.append(reinterpret_cast<const char*>(&h), sizeof h);
  }
  const std::vector<std::string> all = comm.allgather(hashes);
  size_t averaged = 0;
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto differs = [&](const std::string& rank_hashes) {
      return rank_hashes.compare(i * sizeof(uint64_t), sizeof(uint64_t), all[0], i * sizeof(uint64_t),
                                 sizeof(uint64_t)) != 0;
    };
    if (std::none_of(all.begin(), all.end(), differs)) continue;
    Tensor value = stats[i].raw_value();
    // Each rank's share, summed into the variable's own buffer.
    const Tensor share = value * (1.0 / comm.size());
    comm.allreduce_sum(share.raw_data(), value.raw_data(), value.numel(), value.dtype());
    value.bump_version();
    ++averaged;
  }
  return averaged;
}

void save_checkpoint(const Comm& comm, const std::string& path, const std::vector<const VariableStore*>& stores,
                     const io::Metadata& metadata) {
  std::exception_ptr error;
  if (comm.is_root()) {
    try {
      io::Metadata with_world = metadata;
      with_world[kWorldSizeKey] = std::to_string(comm.size());
      io::save_checkpoint(path, stores, with_world);
    } catch (...) {
      error = std::current_exception();
    }
  }
  agree_on_failure(comm, error, "saving checkpoint '" + path + "'");
}

}  // namespace graft::dist
