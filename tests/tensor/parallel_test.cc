#include "graft/tensor/parallel.h"

#include <gtest/gtest.h>

#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "graft/base/check.h"

namespace graft {
namespace {

// Runs the body with the pool at four threads, whatever the machine has.
class ParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = num_threads();
    set_num_threads(4);
  }
  void TearDown() override { set_num_threads(saved_); }
  int saved_ = 1;
};

constexpr int64_t kGrain = 16;
constexpr int64_t kSize = 64 * kGrain;  // enough for every thread to get a chunk

TEST_F(ParallelTest, AnExceptionOnAWorkerReachesTheCaller) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> worker_threw{false};
  try {
    parallel_for(0, kSize, kGrain, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != caller) {
        worker_threw = true;
        GRAFT_CHECK(false, "worker failed");
      }
      // The caller holds its chunk until a worker has thrown, so the error
      // surely starts on a worker thread (bounded, in case none ever runs).
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!worker_threw && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    });
    FAIL() << "parallel_for returned normally after a worker threw";
  } catch (const ValueError& e) {
    EXPECT_TRUE(worker_threw.load());
    EXPECT_NE(std::string(e.what()).find("worker failed"), std::string::npos) << e.what();
  }
  // Every chunk throws: the first exception comes back, whichever thread ran it.
  EXPECT_THROW(parallel_for(0, kSize, kGrain, [](int64_t, int64_t) { GRAFT_CHECK(false, "every chunk fails"); }),
               ValueError);
}

TEST_F(ParallelTest, ThePoolKeepsWorkingAfterAnException) {
  EXPECT_THROW(parallel_for(0, kSize, kGrain, [](int64_t b, int64_t) {
                 if (b == 0) throw std::runtime_error("first chunk");
               }),
               std::runtime_error);
  std::atomic<int64_t> covered{0};
  parallel_for(0, kSize, kGrain, [&](int64_t b, int64_t e) { covered += e - b; });
  EXPECT_EQ(covered.load(), kSize);
}

TEST_F(ParallelTest, ChunksCoverTheRangeOnce) {
  std::vector<std::atomic<int>> hits(kSize);
  parallel_for(0, kSize, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++hits[static_cast<size_t>(i)];
  });
  for (const auto& h : hits) EXPECT_EQ(h.load(), 1);
}

// A thread pinned to one core (as mpirun pins each rank by default) has one
// core to use, whatever the machine has: sizing the pool by the machine would
// put every thread on that core.
TEST(AvailableCoresTest, FollowsTheAffinityMask) {
  EXPECT_GE(available_cores(), 1);
  EXPECT_LE(available_cores(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
#if defined(__linux__)
  int pinned = 0;
  std::thread t([&] {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) pinned = available_cores();
  });
  t.join();
  EXPECT_EQ(pinned, 1);
#endif
}

}  // namespace
}  // namespace graft
