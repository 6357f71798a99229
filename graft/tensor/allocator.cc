#include "graft/tensor/allocator.h"

#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "graft/base/check.h"

namespace graft {
namespace {

// Cached bytes above this go back to the system when freed.
constexpr size_t kMaxCachedBytes = size_t{2} << 30;

// Size classes: multiples of 64 bytes up to 4 KiB, then four classes per
// doubling (2^k, 1.25, 1.5, 1.75 x 2^k), so rounding wastes at most 25%.
// nbytes <= kMaxBufferBytes, so the rounding cannot wrap.
constexpr size_t size_class(size_t nbytes) {
  if (nbytes <= 4096) return nbytes == 0 ? 64 : (nbytes + 63) & ~size_t{63};
  size_t high = std::bit_floor(nbytes);
  size_t quarter = high / 4;
  return (nbytes + quarter - 1) / quarter * quarter;
}

// Index of a class among all classes, for the free-list table.
constexpr size_t class_index(size_t cls) {
  if (cls <= 4096) return cls / 64 - 1;  // 0..63
  int log2 = std::bit_width(cls) - 1;    // >= 12
  size_t quarter = (size_t{1} << log2) / 4;
  size_t step = cls / quarter - 4;  // 0..3
  return 64 + static_cast<size_t>(log2 - 12) * 4 + step;
}

// One free list per class up to the largest request's.
constexpr size_t kClassCount = class_index(size_class(kMaxBufferBytes)) + 1;
static_assert(size_class(kMaxBufferBytes) == kMaxBufferBytes, "the largest class must not round past the limit");

struct Pool {
  std::mutex mutex;
  std::vector<std::vector<void*>> free_lists = std::vector<std::vector<void*>>(kClassCount);
  AllocatorStats stats;
};

Pool& pool() {
  // Leaked on purpose: buffers may be freed by static destructors after main.
  static Pool* p = new Pool;
  return *p;
}

}  // namespace

void* allocate_buffer(size_t nbytes) {
  GRAFT_CHECK(nbytes <= kMaxBufferBytes, "cannot allocate a tensor buffer of ", nbytes,
              " bytes: above the allocator's limit of ", kMaxBufferBytes,
              " bytes (2^48, 256 TiB), more than any process can address\n"
              "  help: check the tensor's shape; the size was probably computed from a corrupt or "
              "unchecked value");
  size_t cls = size_class(nbytes);
  size_t index = class_index(cls);
  Pool& p = pool();
  {
    std::lock_guard lock(p.mutex);
    ++p.stats.requests;
    p.stats.bytes_in_use += cls;
    auto& list = p.free_lists[index];
    if (!list.empty()) {
      void* data = list.back();
      list.pop_back();
      ++p.stats.cache_hits;
      p.stats.bytes_cached -= cls;
      return data;
    }
    ++p.stats.system_allocations;
  }
  void* data = std::aligned_alloc(kTensorAlignment, cls);
  if (data == nullptr) {
    release_cached_buffers();
    data = std::aligned_alloc(kTensorAlignment, cls);
  }
  if (data == nullptr) {
    std::lock_guard lock(p.mutex);
    p.stats.bytes_in_use -= cls;
    base::internal::throw_error<Error>("out of memory: could not allocate ", cls,
                                 " bytes for a tensor\n  help: use a smaller batch or model");
  }
  return data;
}

void free_buffer(void* data, size_t nbytes) {
  if (data == nullptr) return;
  size_t cls = size_class(nbytes);
  Pool& p = pool();
  {
    std::lock_guard lock(p.mutex);
    p.stats.bytes_in_use -= cls;
    if (p.stats.bytes_cached + cls <= kMaxCachedBytes) {
      p.free_lists[class_index(cls)].push_back(data);
      p.stats.bytes_cached += cls;
      return;
    }
  }
  std::free(data);
}

AllocatorStats allocator_stats() {
  Pool& p = pool();
  std::lock_guard lock(p.mutex);
  return p.stats;
}

void release_cached_buffers() {
  Pool& p = pool();
  std::vector<void*> to_free;
  {
    std::lock_guard lock(p.mutex);
    for (auto& list : p.free_lists) {
      to_free.insert(to_free.end(), list.begin(), list.end());
      list.clear();
    }
    p.stats.bytes_cached = 0;
  }
  for (void* data : to_free) std::free(data);
}

}  // namespace graft
