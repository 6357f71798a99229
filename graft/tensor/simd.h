// graft/tensor/simd.h: run-time selection of vector code paths.
//
// The default build is portable (no -march=native). A hot loop marked
// GRAFT_TARGET_CLONES is compiled three times, for AVX-512F, AVX2 and baseline
// x86-64, and the loader picks the best one the CPU supports. The clones name
// instruction sets, not CPU models: an "arch=haswell" clone is chosen only on
// a CPU that is a Haswell, never on a newer one. (A loop marked
// GRAFT_TARGET_AVX512 is one copy, called when cpu_has_avx512().) Sanitizer builds
// get one baseline copy: the loader runs the clones' resolver before the
// sanitizer runtime starts, and an instrumented resolver crashes there
// (before main, under ThreadSanitizer).
#pragma once

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define GRAFT_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GRAFT_TARGET_CLONES
#endif

namespace graft {

// Whether this CPU runs AVX-512F code; checked once. Loops that pay for it
// come in two copies, one marked GRAFT_TARGET_AVX512, chosen per call.
inline bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool avx512 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return avx512;
#else
  return false;
#endif
}

}  // namespace graft

#if defined(__x86_64__) && defined(__GNUC__)
#define GRAFT_TARGET_AVX512 [[gnu::target("avx512f")]]
#else
#define GRAFT_TARGET_AVX512
#endif

namespace graft {
namespace tensor::internal {

// The two copies run_vectorized() picks from. Flattened: the body and every
// call inside it are inlined, so each is compiled for its copy's target.
template <typename Body>
[[gnu::flatten]] void run_baseline(const Body& body, int64_t begin, int64_t end) {
  body(begin, end);
}
template <typename Body>
GRAFT_TARGET_AVX512 [[gnu::flatten]] void run_avx512(const Body& body, int64_t begin, int64_t end) {
  body(begin, end);
}

}  // namespace tensor::internal

// Calls body(begin, end), compiled for AVX-512 when the CPU has it: for the
// simple loops of elementwise kernels, which the portable build vectorises
// four floats wide. A file using it is built with -ffp-contract=off, so both
// copies round every operation alike.
template <typename Body>
void run_vectorized(const Body& body, int64_t begin, int64_t end) {
  if (cpu_has_avx512()) {
    tensor::internal::run_avx512(body, begin, end);
  } else {
    tensor::internal::run_baseline(body, begin, end);
  }
}

}  // namespace graft
