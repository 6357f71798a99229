#include "graft/cli/distribution.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "graft/io/checkpoint.h"

#if GRAFT_WITH_DIST
#include "graft/dist/reducer.h"
#include "graft/dist/structure.h"
#include "graft/dist/sync.h"
#endif

namespace graft::cli {

#if GRAFT_WITH_DIST
struct Distribution::State {
  dist::Comm* comm;
  dist::GradientReducer reducer;
  explicit State(dist::Comm& c) : comm(&c), reducer(c) {}
};
#else
struct Distribution::State {};
#endif

namespace {

// Whether an MPI launcher started this process.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

int local_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    if (const char* v = std::getenv(name)) return std::max(1, std::atoi(v));
  }
  return 1;
}

}  // namespace

Distribution::Distribution() = default;
Distribution::~Distribution() = default;
Distribution::Distribution(Distribution&&) noexcept = default;
Distribution& Distribution::operator=(Distribution&&) noexcept = default;

Distribution Distribution::detect() {
  Distribution d;
#if GRAFT_WITH_DIST
  if (launched_by_mpi()) {
    dist::Comm& comm = dist::Comm::world();
    d.rank_ = comm.rank();
    d.size_ = comm.size();
    d.local_size_ = local_ranks();
    if (d.size_ > 1) d.state_ = std::make_unique<State>(comm);
  }
#else
  (void)launched_by_mpi;
  (void)local_ranks;
#endif
  return d;
}

void Distribution::check_settings(const std::vector<std::pair<std::string, std::string>>& settings,
                                  std::string_view when) {
#if GRAFT_WITH_DIST
  if (!state_) return;
  std::vector<dist::StructureEntry> entries;
  for (const auto& [flag, value] : settings) entries.push_back({flag, value});
  std::sort(entries.begin(), entries.end(),
            [](const dist::StructureEntry& a, const dist::StructureEntry& b) { return a.path < b.path; });
  dist::MismatchWording wording;
  wording.differ = "were started with different settings";
  wording.hash_label = "settings hash";
  wording.missing = "not set";
  wording.help = "start every rank with the same flags (only --threads and --data-dir may differ); nothing was "
                 "trained";
  dist::check_structure(*state_->comm, entries, when, wording);
#endif
}

void Distribution::sync(VariableStore& model, optim::Optimizer& optimizer, std::string_view when) {
#if GRAFT_WITH_DIST
  if (state_) dist::sync(*state_->comm, model, optimizer, when);
#endif
}

std::vector<std::optional<Tensor>> Distribution::average(const std::vector<Variable>& vars,
                                                         const std::vector<std::optional<Tensor>>& grads) {
#if GRAFT_WITH_DIST
  if (state_) return state_->reducer.average(vars, grads);
#endif
  return grads;
}

void Distribution::grow(VariableStore& model, optim::Optimizer* optimizer, std::string_view when,
                        const std::function<void()>& edit) {
#if GRAFT_WITH_DIST
  if (state_) {
    dist::collective_growth(*state_->comm, model, optimizer, when, edit);
    return;
  }
#endif
  edit();
}

void Distribution::average_statistics(VariableStore& model, std::string_view when) {
#if GRAFT_WITH_DIST
  if (state_) dist::average_statistics(*state_->comm, model, when);
#endif
}

void Distribution::save(const std::string& path, const std::vector<const VariableStore*>& stores,
                        const io::Metadata& metadata) {
#if GRAFT_WITH_DIST
  if (state_) {
    dist::save_checkpoint(*state_->comm, path, stores, metadata);
    return;
  }
#endif
  io::save_checkpoint(path, stores, metadata);
}

bool Distribution::any(bool flag) {
#if GRAFT_WITH_DIST
  if (state_) {
    int64_t n = flag ? 1 : 0;
    state_->comm->allreduce_sum(&n, &n, 1, DType::kInt64);
    return n > 0;
  }
#endif
  return flag;
}

void Distribution::fail(const std::exception& error) {
#if GRAFT_WITH_DIST
  if (!state_ || dynamic_cast<const dist::StructureError*>(&error) != nullptr) return;
  // The CLI's own report of an error (the library never prints).
  std::cerr << "graft train (rank " << rank_ << " of " << size_ << "): " << error.what()
            << "\n  ending every rank of the job\n" << std::flush;
  abort(1);
#else
  (void)error;
#endif
}

void Distribution::abort(int code) {
#if GRAFT_WITH_DIST
  if (state_) state_->comm->abort(code);
#endif
  std::exit(code);
}

}  // namespace graft::cli
