// graft/tensor/allocator.h: the caching allocator behind every tensor buffer.
//
// Buffers are 64-byte aligned and rounded up to a size class. A freed buffer
// goes to its class's free list instead of back to the system, so a training
// loop whose shapes repeat reaches a steady state in which no op calls malloc.
// The counters let tests assert that (counts, never times):
//
//   auto before = allocator_stats();
//   step();
//   EXPECT_EQ(allocator_stats().system_allocations, before.system_allocations);
//
// Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace graft {

inline constexpr size_t kTensorAlignment = 64;

// The largest buffer the allocator hands out: 2^48 bytes (256 TiB), above the
// address space of any x86-64 or AArch64 process. A larger request can only
// come from a size computed from a corrupt or unchecked value; refusing it
// here keeps the size-class arithmetic from wrapping.
inline constexpr size_t kMaxBufferBytes = size_t{1} << 48;

struct AllocatorStats {
  uint64_t requests = 0;            // calls to allocate_buffer
  uint64_t cache_hits = 0;          // requests served from a free list
  uint64_t system_allocations = 0;  // requests that went to the system
  uint64_t bytes_in_use = 0;        // size-class bytes handed out and not yet freed
  uint64_t bytes_cached = 0;        // bytes held in free lists
};

// Returns a 64-byte aligned buffer of at least `nbytes` (never null; a zero
// request returns a valid one-class buffer). Throws ValueError for a request
// above kMaxBufferBytes (before touching the system) and graft::Error when
// the system is out of memory.
void* allocate_buffer(size_t nbytes);
// Returns a buffer from allocate_buffer, with the same `nbytes`.
void free_buffer(void* data, size_t nbytes);

AllocatorStats allocator_stats();
// Gives every cached buffer back to the system.
void release_cached_buffers();

}  // namespace graft
