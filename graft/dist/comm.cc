#include "graft/dist/comm.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "graft/base/check.h"

namespace graft::dist {

struct Comm::Handle {
  MPI_Comm comm = MPI_COMM_NULL;
};

namespace {

// MPI counts are ints: larger transfers go in pieces.
constexpr int64_t kMaxCount = INT_MAX / 8;

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return MPI_FLOAT;
    case DType::kFloat64: return MPI_DOUBLE;
    case DType::kInt64: return MPI_INT64_T;
    case DType::kCount: break;
  }
  GRAFT_INTERNAL_ASSERT(false, "unknown dtype");
}

}  // namespace

Comm& Comm::world() {
  static Comm* instance = [] {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      GRAFT_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                  "dist::Comm::world: MPI_Init_thread failed\n  help: start the program with mpirun, or check the "
                  "MPI installation (openmpi-bin)");
      std::atexit(finalize_at_exit);
    }
    auto handle = std::make_unique<Handle>();
    MPI_Comm_dup(MPI_COMM_WORLD, &handle->comm);
    return new Comm(std::move(handle));  // lives until exit: MPI_Finalize runs after static destructors
  }();
  return *instance;
}

Comm::Comm(std::unique_ptr<Handle> handle) : handle_(std::move(handle)) {
  MPI_Comm_rank(handle_->comm, &rank_);
  MPI_Comm_size(handle_->comm, &size_);
}

Comm::~Comm() = default;

void Comm::barrier() const { MPI_Barrier(handle_->comm); }

void Comm::broadcast(void* data, size_t bytes, int root) const {
  GRAFT_CHECK(root >= 0 && root < size_, "dist::Comm::broadcast: root ", root, " is not a rank of a job of ", size_);
  auto* p = static_cast<char*>(data);
  for (size_t done = 0; done < bytes;) {
    const int n = static_cast<int>(std::min<size_t>(bytes - done, static_cast<size_t>(kMaxCount)));
    MPI_Bcast(p + done, n, MPI_BYTE, root, handle_->comm);
    done += static_cast<size_t>(n);
  }
}

void Comm::allreduce_sum(const void* send, void* recv, int64_t count, DType dtype) const {
  const size_t width = dtype_size(dtype);
  for (int64_t done = 0; done < count;) {
    const int n = static_cast<int>(std::min(count - done, kMaxCount));
    void* out = static_cast<char*>(recv) + static_cast<size_t>(done) * width;
    const void* in = send == recv ? MPI_IN_PLACE : static_cast<const char*>(send) + static_cast<size_t>(done) * width;
    MPI_Allreduce(in, out, n, mpi_type(dtype), MPI_SUM, handle_->comm);
    done += n;
  }
}

std::vector<uint64_t> Comm::allgather(uint64_t value) const {
  std::vector<uint64_t> out(static_cast<size_t>(size_));
  MPI_Allgather(&value, 1, MPI_UINT64_T, out.data(), 1, MPI_UINT64_T, handle_->comm);
  return out;
}

std::vector<std::string> Comm::allgather(const std::string& text) const {
  GRAFT_CHECK(text.size() < static_cast<size_t>(INT_MAX), "dist::Comm::allgather: ", text.size(),
              " bytes is more than one message holds");
  const int length = static_cast<int>(text.size());
  std::vector<int> lengths(static_cast<size_t>(size_));
  MPI_Allgather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, handle_->comm);
  std::vector<int> offsets(static_cast<size_t>(size_));
  int64_t total = 0;
  for (int r = 0; r < size_; ++r) {
    GRAFT_CHECK(total + lengths[static_cast<size_t>(r)] < INT_MAX, "dist::Comm::allgather: ", total,
                " bytes in all is more than one message holds");
    offsets[static_cast<size_t>(r)] = static_cast<int>(total);
    total += lengths[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(total), '\0');
  MPI_Allgatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR, handle_->comm);
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) {
    out.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                             static_cast<size_t>(lengths[static_cast<size_t>(r)])));
  }
  return out;
}

void Comm::abort(int code) const {
  MPI_Abort(handle_->comm, code);
  std::_Exit(code);  // MPI_Abort does not return; if it ever did, still end this process
}

}  // namespace graft::dist
