#include "graft/tensor/parallel.h"

#if defined(__linux__)
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
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

// The most tasks one parallel region holds (the claim word's 16-bit fields).
constexpr int kMaxTasks = 0xffff;

// A persistent pool: the caller publishes a region by bumping the generation
// in `claim_`, and every thread (the caller included) claims task indices from
// that same word until none are left.
//
// Between regions a worker spins for a short while before it sleeps on the
// condition variable, and so does the caller waiting for the last task: a
// training step runs dozens of regions a few microseconds apart, and waking a
// sleeping thread through the kernel costs more than most of those regions
// (on a 2-core VM, 20-60 us per wake-up). The spin is bounded (kSpin), so an
// idle pool costs nothing and a busy machine loses at most that much per
// region to a waiting thread.
class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop(); }

  int threads() const { return threads_; }

  void resize(int threads) {
    stop();
    threads_ = std::max(1, threads);
    stopping_ = false;
    // A worker joins every region published after this point, even one
    // published before the worker thread first runs.
    const uint64_t seen = generation_of(claim_.load());
    for (int i = 0; i + 1 < threads_; ++i) workers_.emplace_back([this, seen] { work(seen); });
  }

  // Runs task(0..tasks-1) on the workers and the caller. An exception from
  // any task is rethrown here, on the calling thread, once every task has
  // finished (the first one thrown wins; tasks not started yet are skipped).
  void run(int tasks, const std::function<void(int)>& task) {
    GRAFT_INTERNAL_ASSERT(tasks > 0 && tasks <= kMaxTasks, "a parallel region of ", tasks, " tasks");
    std::unique_lock lock(run_mutex_);  // one parallel region at a time
    task_ = &task;
    error_ = nullptr;
    error_seen_.store(false, std::memory_order_relaxed);
    pending_.store(tasks);
    const uint64_t generation = (claim_.load() >> kGenerationShift) + 1;
    // Publishing the new word releases task_ and pending_ to whoever claims from it.
    claim_.store(generation << kGenerationShift | static_cast<uint64_t>(tasks) << kTasksShift);
    if (sleepers_.load() > 0) {
      std::lock_guard guard(mutex_);
      wake_.notify_all();
    }
    drain(generation);
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock guard(mutex_);
      caller_sleeping_.store(true);
      done_.wait(guard, [&] { return pending_.load() == 0; });
      caller_sleeping_.store(false);
    }
    task_ = nullptr;
    if (std::exception_ptr error = std::exchange(error_, nullptr)) std::rethrow_exception(error);
  }

 private:
  // claim_ packs [generation:32 | tasks:16 | next index:16], so a thread that
  // claims an index also learns which region it belongs to: a late worker
  // can never take an index of a region that has already ended.
  static constexpr int kGenerationShift = 32;
  static constexpr int kTasksShift = 16;
  // How long a thread spins before it sleeps.
  static constexpr std::chrono::microseconds kSpin{200};

  static uint64_t generation_of(uint64_t word) { return word >> kGenerationShift; }

  // Spins until done() holds or kSpin passes; returns done().
  template <typename Done>
  static bool spin_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (;;) {
      for (int i = 0; i < 64; ++i) {
        if (done()) return true;
        cpu_relax();
      }
      if (std::chrono::steady_clock::now() >= deadline) return done();
    }
  }

  static void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
  }

  // Claims and runs tasks of region `generation` until none are left.
  void drain(uint64_t generation) {
    uint64_t word = claim_.load();
    for (;;) {
      if (generation_of(word) != generation) return;
      const uint64_t tasks = (word >> kTasksShift) & kMaxTasks;
      const uint64_t index = word & kMaxTasks;
      if (index >= tasks) return;
      if (!claim_.compare_exchange_weak(word, word + 1)) continue;  // `word` reloaded
      // The region cannot end before this task does, so task_ is still its task.
      std::exception_ptr error;
      if (!error_seen_.load(std::memory_order_relaxed)) {
        try {
          (*task_)(static_cast<int>(index));
        } catch (...) {
          // A worker must not let an exception escape (std::terminate): keep
          // it for run() to rethrow on the caller.
          error = std::current_exception();
        }
      }
      if (error) {
        std::lock_guard guard(mutex_);
        if (!error_) error_ = error;
        error_seen_.store(true, std::memory_order_relaxed);
      }
      if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
        std::lock_guard guard(mutex_);
        done_.notify_all();
      }
      word = claim_.load();
    }
  }

  void work(uint64_t seen) {
    for (;;) {
      auto published = [&] { return generation_of(claim_.load(std::memory_order_acquire)) != seen; };
      if (!spin_until([&] { return published() || stopping_.load(std::memory_order_relaxed); })) {
        std::unique_lock guard(mutex_);
        sleepers_.fetch_add(1);
        wake_.wait(guard, [&] { return stopping_.load() || published(); });
        sleepers_.fetch_sub(1);
      }
      if (stopping_.load()) return;
      seen = generation_of(claim_.load());
      drain(seen);
    }
  }

  void stop() {
    {
      std::lock_guard guard(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;
  std::mutex mutex_;  // guards error_ and the sleeps below
  std::condition_variable wake_;
  std::condition_variable done_;
  // Sequentially consistent throughout: a sleeper's count and a publisher's
  // word (or the last task's count and the caller's flag) form a Dekker pair,
  // so a wake-up is never lost.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stopping_{false};
  const std::function<void(int)>* task_ = nullptr;
  std::exception_ptr error_;             // the first task exception of this run
  std::atomic<bool> error_seen_{false};  // lets the other tasks skip work
};

int default_threads() {
  if (const char* env = std::getenv("GRAFT_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return available_cores();
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
  int64_t chunks = std::min<int64_t>({p.threads(), n / grain, kMaxTasks});
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

bool inside_parallel_region() { return in_parallel_region; }

int available_cores() {
#if defined(__linux__)
  cpu_set_t mask;
  if (sched_getaffinity(0, sizeof mask, &mask) == 0) return std::max(1, CPU_COUNT(&mask));
#endif
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace graft
