// The data-parallel tests' main: starts MPI (dist::Comm::world()), runs every
// test on every rank, and keeps the other ranks' output to their failures so
// rank 0's report stays readable. Any failing rank makes mpiexec exit non-zero.
#include <gtest/gtest.h>

#include <iostream>

#include "graft/dist/comm.h"
#include "graft/tensor/parallel.h"

namespace {

class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::cerr << "rank " << rank_ << ": " << (result.file_name() ? result.file_name() : "?") << ":"
              << result.line_number() << ": " << result.summary() << "\n";
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  graft::dist::Comm& comm = graft::dist::Comm::world();
  graft::set_num_threads(1);  // ranks share the machine's cores
  if (!comm.is_root()) {
    testing::TestEventListeners& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(comm.rank()));
  }
  return RUN_ALL_TESTS();
}
