// graft/base/checked_size.h: size arithmetic that reports overflow instead of
// wrapping.
//
//   std::optional<int64_t> n = checked_mul(rows, cols);   // nullopt on overflow
//   if (!n) throw ...;
//   std::optional<int64_t> total = checked_product(dims);  // every partial product fits
//
// Sizes in graft are int64 (element counts, dimensions) and size_t (bytes). A
// size computed from a flag, a saved setting or a file header may be hostile:
// multiplying it unchecked is undefined behaviour and, in practice, a buffer
// smaller than the code believes. These helpers are the one place that
// arithmetic is spelled; callers turn nullopt into an error that names the
// value (Shape does, with a ShapeError naming the shape).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

namespace graft {

// a * b, or nullopt when the product does not fit in int64.
constexpr std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a + b, or nullopt when the sum does not fit in int64.
constexpr std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The product of non-negative `dims` (1 for none), or nullopt when the
// product of the non-zero ones does not fit in int64. Zeros are skipped for
// the check and not for the result: an empty tensor [0, 2^62, 2^62] is
// refused, because code that multiplies a suffix of its dimensions (strides,
// inner sizes of reductions) would overflow although the count is 0. With
// this rule every partial product of the dimensions fits.
constexpr std::optional<int64_t> checked_product(std::span<const int64_t> dims) {
  int64_t nonzero = 1;
  bool empty = false;
  for (int64_t d : dims) {
    if (d == 0) {
      empty = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, d, &nonzero)) return std::nullopt;
  }
  return empty ? 0 : nonzero;
}

}  // namespace graft
