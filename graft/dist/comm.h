// graft/dist/comm.h: the processes of a data-parallel job (MPI ranks).
//
//   dist::Comm& comm = dist::Comm::world();   // starts MPI on first use
//   if (comm.rank() == 0) std::cout << "training on " << comm.size() << " ranks\n";
//   comm.broadcast(buffer, bytes, /*root=*/0);
//   comm.allreduce_sum(grad.raw_data(), out.raw_data(), grad.numel(), DType::kFloat32);
//
// Standard MPI-3 calls only (Open MPI and MPICH both work). world() runs
// MPI_Init_thread (MPI_THREAD_FUNNELED: only the thread that made the Comm
// talks to MPI; a data loader's background thread never does) unless the
// program already did, and then MPI_Finalize at exit. graft's traffic goes over
// its own duplicate of MPI_COMM_WORLD, so it never matches a user's messages.
//
// Every call but rank(), size() and abort() is collective: every rank must
// make it, in the same order. A rank that dies takes the job down (MPI's
// default error handler aborts), so a fault is an exit, never a hang.
// Not thread-safe: one thread uses the Comm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "graft/tensor/dtype.h"

namespace graft::dist {

// The processes of an MPI job (header comment): ranks, collectives.
class Comm {
 public:
  // The job's processes; MPI starts on the first call. Throws ValueError
  // when MPI cannot start.
  static Comm& world();

  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;
  ~Comm();

  // This process's rank in [0, size()), the number of processes, and
  // whether this is rank 0.
  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  // Returns once every rank has called it.
  void barrier() const;
  // Copies `bytes` bytes at `data` on rank `root` to `data` on every rank.
  void broadcast(void* data, size_t bytes, int root = 0) const;
  // Sums `count` values of `dtype` (float32, float64, int64) over the ranks:
  // recv[i] = sum over ranks of send[i]. `send == recv` sums in place.
  void allreduce_sum(const void* send, void* recv, int64_t count, DType dtype) const;
  // Every rank's `value`, indexed by rank.
  std::vector<uint64_t> allgather(uint64_t value) const;
  // Every rank's `text`, indexed by rank.
  std::vector<std::string> allgather(const std::string& text) const;
  // Ends every process of the job with `code` (MPI_Abort): for an error only
  // this rank saw, where waiting for the others would hang.
  [[noreturn]] void abort(int code) const;

 private:
  struct Handle;
  explicit Comm(std::unique_ptr<Handle> handle);

  std::unique_ptr<Handle> handle_;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace graft::dist
