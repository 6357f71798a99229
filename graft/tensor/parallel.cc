#include "graft/tensor/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "graft/base/check.h"
#include "graft/tensor/blas.h"

namespace graft {
namespace {

class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }

  int threads() const { return threads_; }

  void resize(int threads) {
    stop();
    threads_ = std::max(1, threads);
    stopping_ = false;
    for (int i = 0; i + 1 < threads_; ++i) workers_.emplace_back([this, i] { work(i + 1); });
  }

  // Runs task(0..tasks-1) on the workers and the caller. An exception from
  // any task is rethrown here, on the calling thread, once every task has
  // finished (the first one thrown wins; tasks not started yet are skipped).
  void run(int tasks, const std::function<void(int)>& task) {
    std::unique_lock lock(run_mutex_);  // one parallel region at a time
    {
      std::lock_guard guard(mutex_);
      task_ = &task;
      tasks_ = tasks;
      next_ = 0;
      pending_ = tasks;
      error_ = nullptr;
      error_seen_.store(false, std::memory_order_relaxed);
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::exception_ptr error;
    {
      std::unique_lock guard(mutex_);
      done_.wait(guard, [&] { return pending_ == 0; });
      task_ = nullptr;
      error = std::exchange(error_, nullptr);
    }
    if (error) std::rethrow_exception(error);
  }

 private:
  void drain() {
    for (;;) {
      int index;
      const std::function<void(int)>* task;
      {
        std::lock_guard guard(mutex_);
        if (task_ == nullptr || next_ >= tasks_) return;
        index = next_++;
        task = task_;
      }
      // A worker must not let an exception escape (std::terminate): keep it
      // for run() to rethrow on the caller.
      std::exception_ptr error;
      if (!error_seen_.load(std::memory_order_relaxed)) {
        try {
          (*task)(index);
        } catch (...) {
          error = std::current_exception();
        }
      }
      std::lock_guard guard(mutex_);
      if (error && !error_) {
        error_ = error;
        error_seen_.store(true, std::memory_order_relaxed);
      }
      if (--pending_ == 0) done_.notify_all();
    }
  }

  void work(int) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock guard(mutex_);
        wake_.wait(guard, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      drain();
    }
  }

  void stop() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int)>* task_ = nullptr;
  int tasks_ = 0;
  int next_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;           // the first task exception of this run
  std::atomic<bool> error_seen_{false};  // lets the other tasks skip work
};

int default_threads() {
  if (const char* env = std::getenv("GRAFT_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool* p = [] {
    int n = default_threads();
    // OpenBLAS stays single-threaded: graft splits large products over this
    // pool itself (graft/tensor/blas.cc), so the two never oversubscribe.
    blas::select_kernels();
    blas::set_num_threads(1);
    return new Pool(n);
  }();
  return *p;
}

// Nested parallel_for calls run inline.
thread_local bool in_parallel_region = false;

}  // namespace

namespace tensor::internal {

void run_parallel(int64_t begin, int64_t end, int64_t grain, RangeFn body) {
  int64_t n = end - begin;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  Pool& p = pool();
  int64_t chunks = std::min<int64_t>(p.threads(), n / grain);
  if (chunks < 2 || in_parallel_region) {
    body.call(body.object, begin, end);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  p.run(static_cast<int>(chunks), [&](int i) {
    // Reset even when the body throws, so this thread's later calls split again.
    struct RegionFlag {
      RegionFlag() { in_parallel_region = true; }
      ~RegionFlag() { in_parallel_region = false; }
    } flag;
    int64_t b = begin + i * step;
    int64_t e = std::min(end, b + step);
    if (b < e) body.call(body.object, b, e);
  });
}

}  // namespace tensor::internal

void set_num_threads(int n) {
  GRAFT_CHECK(n >= 1, "set_num_threads: expected at least 1 thread, got ", n);
  if (n != pool().threads()) pool().resize(n);
  blas::set_num_threads(1);
}

int num_threads() { return pool().threads(); }

}  // namespace graft
