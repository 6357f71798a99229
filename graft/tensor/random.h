// graft/tensor/random.h: counter-based random numbers, identical on every
// machine for a given seed.
//
//   std::vector<float> w(n);
//   fill_normal(w.data(), n, /*seed=*/42, /*mean=*/0.0, /*stddev=*/0.02);
//
// Value i of a stream depends only on (seed, i): the SplitMix64 finaliser of
// seed and counter, turned into floats with exact integer arithmetic and into
// normals by Box-Muller with libm's log/sqrt/cos (correctly rounded to within
// an ulp on glibc, so results agree across x86-64 machines). No
// std::*_distribution is used: their output is implementation-defined.
#pragma once

#include <cstdint>

namespace graft {

// 64 random bits for (seed, counter).
uint64_t random_bits(uint64_t seed, uint64_t counter);
// A double uniform in [0, 1) with 53 random bits.
double random_unit(uint64_t seed, uint64_t counter);

// Fill out[0..n) with values uniform in [low, high).
template <typename T>
void fill_uniform(T* out, int64_t n, uint64_t seed, double low, double high);
// Fill out[0..n) with normal values.
template <typename T>
void fill_normal(T* out, int64_t n, uint64_t seed, double mean, double stddev);
// Normal values redrawn until within two standard deviations of the mean (as
// TensorFlow's truncated_normal).
template <typename T>
void fill_truncated_normal(T* out, int64_t n, uint64_t seed, double mean, double stddev);

// Mixes a base seed with a name (a variable path, a layer index) into a new
// seed, so every variable gets its own stream from one run seed.
uint64_t derive_seed(uint64_t seed, uint64_t salt);
uint64_t hash_string(const char* text);

}  // namespace graft
