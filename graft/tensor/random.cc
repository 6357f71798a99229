#include "graft/tensor/random.h"

#include <cmath>

#include "graft/tensor/parallel.h"

namespace graft {
namespace {

constexpr double kTwoPi = 6.283185307179586476925286766559;

// Below this many elements a fill runs on the calling thread alone. Each
// element depends only on (seed, index), so a split fill writes exactly the
// values a serial one does.
constexpr int64_t kFillGrain = 4096;

// Keys derive_seed's sub-streams apart from the seed's own.
constexpr uint64_t kStreamKey = 0x5851F42D4C957F2DULL;

// The generator itself, inlined into the fill loops (the exported functions
// below may be interposed in a shared library, so calls to them are not).
inline uint64_t bits(uint64_t seed, uint64_t counter) {
  // SplitMix64's finaliser over a Weyl sequence keyed by the seed.
  uint64_t z = seed * 0x9E3779B97F4A7C15ULL + (counter + 1) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

inline double unit(uint64_t seed, uint64_t counter) { return static_cast<double>(bits(seed, counter) >> 11) * 0x1.0p-53; }

// One standard normal for (seed, i): Box-Muller over two uniforms from the
// counters 2i and 2i + 1; the first of the pair is used.
double standard_normal(uint64_t seed, uint64_t i) {
  double u1 = unit(seed, 2 * i);
  double u2 = unit(seed, 2 * i + 1);
  // 1 - u1 is in (0, 1], so the log is finite.
  return std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(kTwoPi * u2);
}

}  // namespace

uint64_t random_bits(uint64_t seed, uint64_t counter) { return bits(seed, counter); }

double random_unit(uint64_t seed, uint64_t counter) { return unit(seed, counter); }

template <typename T>
void fill_uniform(T* out, int64_t n, uint64_t seed, double low, double high) {
  parallel_for(0, n, kFillGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(low + (high - low) * unit(seed, static_cast<uint64_t>(i)));
  });
}

template <typename T>
void fill_normal(T* out, int64_t n, uint64_t seed, double mean, double stddev) {
  parallel_for(0, n, kFillGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(mean + stddev * standard_normal(seed, static_cast<uint64_t>(i)));
  });
}

template <typename T>
void fill_truncated_normal(T* out, int64_t n, uint64_t seed, double mean, double stddev) {
  // Element i redraws from its own sub-stream, so values stay independent of n.
  parallel_for(0, n, kFillGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      uint64_t stream = bits(seed ^ kStreamKey, static_cast<uint64_t>(i));
      double z;
      uint64_t draw = 0;
      do {
        z = standard_normal(stream, draw++);
      } while (std::abs(z) > 2.0);
      out[i] = static_cast<T>(mean + stddev * z);
    }
  });
}

uint64_t derive_seed(uint64_t seed, uint64_t salt) { return bits(seed ^ kStreamKey, salt); }

uint64_t hash_string(const char* text) {
  // FNV-1a, 64-bit.
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char* p = text; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 0x100000001b3ULL;
  return h;
}

template void fill_uniform<float>(float*, int64_t, uint64_t, double, double);
template void fill_uniform<double>(double*, int64_t, uint64_t, double, double);
template void fill_normal<float>(float*, int64_t, uint64_t, double, double);
template void fill_normal<double>(double*, int64_t, uint64_t, double, double);
template void fill_truncated_normal<float>(float*, int64_t, uint64_t, double, double);
template void fill_truncated_normal<double>(double*, int64_t, uint64_t, double, double);

}  // namespace graft
