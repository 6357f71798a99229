// graft/tensor/simd.h: run-time selection of vector code paths.
//
// The default build is portable (no -march=native). A hot loop marked
// GRAFT_TARGET_CLONES is compiled twice, for AVX2+FMA and for baseline x86-64,
// and the loader picks the best one for the CPU it runs on. Sanitizer builds
// get one baseline copy: the loader runs the clones' resolver before the
// sanitizer runtime starts, and an instrumented resolver crashes there
// (before main, under ThreadSanitizer).
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__)
#define GRAFT_TARGET_CLONES __attribute__((target_clones("arch=haswell", "default")))
#else
#define GRAFT_TARGET_CLONES
#endif
