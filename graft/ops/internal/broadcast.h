// graft/ops/internal/broadcast.h: iteration over a broadcast output, one row
// (the last axis) at a time, for elementwise kernels.
#pragma once

#include <array>
#include <cstdint>

#include "graft/tensor/parallel.h"
#include "graft/tensor/shape.h"

namespace graft::ops::internal {

// Calls row(out_offset, in_offsets, in_steps, length) for every row of `out`,
// where input i's element j of the row is at in_offsets[i] + j * in_steps[i]
// (a step of 0 means that input is broadcast along the last axis). Rows are
// split across threads when the output is large.
template <size_t N, typename Row>
void for_each_broadcast_row(const Shape& out, const std::array<const Shape*, N>& ins, Row&& row) {
  const int rank = out.rank();
  if (rank == 0) {
    std::array<int64_t, N> offsets{};
    std::array<int64_t, N> steps{};
    row(int64_t{0}, offsets, steps, int64_t{1});
    return;
  }
  // Strides of each input, aligned to the output's axes; 0 where broadcast.
  std::array<std::array<int64_t, kMaxRank>, N> strides{};
  for (size_t i = 0; i < N; ++i) {
    const Shape& s = *ins[i];
    int lead = rank - s.rank();
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      int sd = d - lead;
      if (sd < 0 || s[sd] == 1) {
        strides[i][d] = 0;
      } else {
        strides[i][d] = stride;
      }
      if (sd >= 0) stride *= s[sd];
    }
  }
  const int64_t len = out[rank - 1];
  if (len == 0) return;
  const int64_t rows = out.numel() / len;
  std::array<int64_t, N> steps;
  for (size_t i = 0; i < N; ++i) steps[i] = strides[i][rank - 1];

  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / len), [&](int64_t begin, int64_t end) {
    // Multi-index of row `begin` over the axes before the last.
    std::array<int64_t, kMaxRank> index{};
    int64_t rest = begin;
    for (int d = rank - 2; d >= 0; --d) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    std::array<int64_t, N> offsets{};
    for (size_t i = 0; i < N; ++i) {
      for (int d = 0; d < rank - 1; ++d) offsets[i] += index[d] * strides[i][d];
    }
    for (int64_t r = begin; r < end; ++r) {
      row(r * len, offsets, steps, len);
      // Advance the multi-index by one row.
      for (int d = rank - 2; d >= 0; --d) {
        ++index[d];
        for (size_t i = 0; i < N; ++i) offsets[i] += strides[i][d];
        if (index[d] < out[d]) break;
        for (size_t i = 0; i < N; ++i) offsets[i] -= strides[i][d] * out[d];
        index[d] = 0;
      }
    }
  });
}

}  // namespace graft::ops::internal
