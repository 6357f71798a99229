// graft/ops/internal/broadcast.h: iteration over a broadcast output, one row
// (a run of its innermost axes) at a time, for elementwise kernels.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "graft/tensor/parallel.h"
#include "graft/tensor/shape.h"

namespace graft::ops::internal {

// Calls row(out_offset, in_offsets, in_steps, length) for every row of `out`,
// where input i's element j of the row is at in_offsets[i] + j * in_steps[i]
// (a step of 0 means that input is broadcast along the row). A row is a run
// of the output's innermost axes: the last axis, merged with the axes before
// it for as long as every input steps through them as one run (contiguous
// across them, or broadcast along all of them), so adding a [C, 1, 1] bias to
// [N, C, H, W] makes rows of H * W elements and broadcasting a scalar makes
// one row. Rows longer than kParallelGrain come in pieces of at most that
// many elements. Rows (or pieces) are split across threads when the output
// is large.
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
  std::array<int64_t, N> steps;
  for (size_t i = 0; i < N; ++i) steps[i] = strides[i][rank - 1];
  // Axes [outer_rank, rank) form a row of `len` elements.
  int64_t len = out[rank - 1];
  int outer_rank = rank - 1;
  for (; outer_rank > 0; --outer_rank) {
    const int d = outer_rank - 1;
    bool merges = true;
    for (size_t i = 0; i < N; ++i) merges &= out[d] == 1 || strides[i][d] == steps[i] * len;
    if (!merges) break;
    len *= out[d];
  }
  if (len == 0) return;
  const int64_t rows = out.numel() / len;
  // Input offsets of the first element of row r.
  auto row_offsets = [&](int64_t r) {
    std::array<int64_t, N> offsets{};
    for (int d = outer_rank - 1; d >= 0; --d) {
      const int64_t index = r % out[d];
      r /= out[d];
      for (size_t i = 0; i < N; ++i) offsets[i] += index * strides[i][d];
    }
    return offsets;
  };

  if (len > kParallelGrain) {
    // Long rows: pieces of kParallelGrain elements are the units of work.
    const int64_t pieces = (len + kParallelGrain - 1) / kParallelGrain;
    parallel_for(0, rows * pieces, 1, [&](int64_t begin, int64_t end) {
      for (int64_t u = begin; u < end; ++u) {
        const int64_t r = u / pieces, first = (u % pieces) * kParallelGrain;
        std::array<int64_t, N> offsets = row_offsets(r);
        for (size_t i = 0; i < N; ++i) offsets[i] += first * steps[i];
        row(r * len + first, offsets, steps, std::min(kParallelGrain, len - first));
      }
    });
    return;
  }
  parallel_for(0, rows, std::max<int64_t>(1, kParallelGrain / len), [&](int64_t begin, int64_t end) {
    // Multi-index of row `begin` over the axes before the row.
    std::array<int64_t, kMaxRank> index{};
    int64_t rest = begin;
    for (int d = outer_rank - 1; d >= 0; --d) {
      index[d] = rest % out[d];
      rest /= out[d];
    }
    std::array<int64_t, N> offsets = row_offsets(begin);
    for (int64_t r = begin; r < end; ++r) {
      row(r * len, offsets, steps, len);
      // Advance the multi-index by one row.
      for (int d = outer_rank - 1; d >= 0; --d) {
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
