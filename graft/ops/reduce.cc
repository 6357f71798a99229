// Reductions (sum, max) over a set of axes, with keepdims.
#include <algorithm>
#include <limits>

#include "graft/ops/internal/elementwise_math.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/simd.h"

namespace graft::ops::internal {
namespace {

// Normalised, sorted, duplicate-free axes; all axes when `axes` is empty.
Dims reduced_axes(const OpDef& def, const Shape& shape, const Dims& axes) {
  bool reduce[kMaxRank] = {};
  if (axes.empty()) {
    for (int d = 0; d < shape.rank(); ++d) reduce[d] = true;
  }
  for (int64_t axis : axes) {
    int a = normalize_axis(axis, shape.rank(), def.name);
    GRAFT_CHECK_AS(ShapeError, !reduce[a], def.name, ": axis ", axis, " is listed twice");
    reduce[a] = true;
  }
  Dims out;
  for (int d = 0; d < shape.rank(); ++d) {
    if (reduce[d]) out.push_back(d);
  }
  return out;
}

// The input shape with reduced axes set to 1.
Shape keepdims_shape(const Shape& shape, const Dims& axes) {
  Shape out = shape;
  for (int64_t a : axes) out.set_dim(static_cast<int>(a), 1);
  return out;
}

// Combines row[0, n) into `lanes` (element j into lane j % kLanes):
// independent chains the compiler vectorises, where one accumulator waits out
// an add's latency per element.
constexpr int64_t kLanes = 8;
template <typename T, typename Acc, typename Combine>
void combine_lanes(const T* row, int64_t n, Acc* lanes, Combine& combine) {
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] = combine(lanes[l], static_cast<Acc>(row[j + l]));
  }
  for (int64_t l = 0; j < n; ++j, ++l) lanes[l] = combine(lanes[l], static_cast<Acc>(row[j]));
}

// The lanes combined in lane order.
template <typename Acc, typename Combine>
Acc fold_lanes(const Acc* lanes, Combine& combine) {
  Acc acc = lanes[0];
  for (int64_t l = 1; l < kLanes; ++l) acc = combine(acc, lanes[l]);
  return acc;
}

// Reduces `x` into `out` with `combine`, starting from `init`. When the
// reduced axes are one contiguous block the input is [outer, r, inner] and
// the loops run over it directly; otherwise every element is mapped to its
// output slot. The loops of each layout run through run_vectorized(): its
// AVX-512 copy converts and combines eight doubles at a time where the
// portable one does two, in the same order, so both give the same bits.
template <typename T, typename Acc, typename Combine>
void reduce_kernel(const Tensor& x, const Tensor& out, const Dims& axes, Acc init, Combine combine) {
  const Shape& shape = x.shape();
  const T* px = x.data<T>();
  T* po = out.data<T>();
  const int64_t out_n = out.numel();
  bool contiguous = true;
  for (int i = 1; i < axes.size(); ++i) contiguous &= axes[i] == axes[i - 1] + 1;
  if (contiguous) {
    int64_t outer = 1, r = 1, inner = 1;
    int first = axes.empty() ? 0 : static_cast<int>(axes[0]);
    int last = axes.empty() ? -1 : static_cast<int>(axes[axes.size() - 1]);
    for (int d = 0; d < shape.rank(); ++d) {
      if (d < first) outer *= shape[d];
      else if (d <= last) r *= shape[d];
      else inner *= shape[d];
    }
    if (inner == 1) {
      // Row reductions.
      auto rows = [&](int64_t begin, int64_t end) {
        for (int64_t o = begin; o < end; ++o) {
          Acc lanes[kLanes];
          std::fill(lanes, lanes + kLanes, init);
          combine_lanes(px + o * r, r, lanes, combine);
          po[o] = static_cast<T>(fold_lanes(lanes, combine));
        }
      };
      parallel_for(0, outer, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(r, 1)),
                   [&](int64_t begin, int64_t end) { run_vectorized(rows, begin, end); });
    } else {
      // Column reductions: output slot (o, k) combines rows j = 0..r-1 of
      // block o. The pool splits the outer * inner slots, not the outer
      // blocks alone, so one block (a bias gradient, [batch, units] ->
      // [units]) still spreads over the threads; each task walks the rows
      // for a stretch of up to kStretch columns at a time, so the inner loop
      // runs over contiguous memory.
      constexpr int64_t kStretch = 256;
      auto columns = [&](int64_t begin, int64_t end) {
        Acc acc[kStretch];
        for (int64_t slot = begin; slot < end;) {
          const int64_t o = slot / inner, k0 = slot % inner;
          const int64_t width = std::min({kStretch, inner - k0, end - slot});
          std::fill(acc, acc + width, init);
          const T* column = px + o * r * inner + k0;
          for (int64_t j = 0; j < r; ++j) {
            const T* row = column + j * inner;
            for (int64_t k = 0; k < width; ++k) acc[k] = combine(acc[k], static_cast<Acc>(row[k]));
          }
          for (int64_t k = 0; k < width; ++k) po[o * inner + k0 + k] = static_cast<T>(acc[k]);
          slot += width;
        }
      };
      parallel_for(0, outer * inner, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(r, 1)),
                   [&](int64_t begin, int64_t end) { run_vectorized(columns, begin, end); });
    }
    return;
  }
  // Axes apart (batch norm's {0, 2, 3}, say). Neighbouring dimensions of the
  // same kind merge (size-1 ones go), leaving blocks that alternate between
  // reduced and kept. Either way below, each output slot combines its elements
  // in memory order, as one pass over the input would.
  struct Block {
    int64_t size;
    bool reduced;
  };
  Block blocks[kMaxRank];
  int nb = 0;
  for (int d = 0, k = 0; d < shape.rank(); ++d) {
    const bool reduced = k < axes.size() && axes[k] == d;
    if (reduced) ++k;
    if (shape[d] == 1) continue;
    if (nb > 0 && blocks[nb - 1].reduced == reduced) {
      blocks[nb - 1].size *= shape[d];
    } else {
      blocks[nb++] = {shape[d], reduced};
    }
  }
  if (nb == 0) blocks[nb++] = {1, true};
  if (nb == 3 && blocks[0].reduced && !blocks[1].reduced) {
    // [outer, kept, inner]: every kept slot reduces its own strided rows, so
    // the slots split across the pool. Each slot keeps kLanes partial results
    // (combine_lanes; batch norm's statistics and gradients were a fifth of a
    // CNN step with one accumulator).
    const int64_t outer = blocks[0].size, kept = blocks[1].size, inner = blocks[2].size;
    auto slots = [&](int64_t begin, int64_t end) {
      for (int64_t k = begin; k < end; ++k) {
        Acc lanes[kLanes];
        std::fill(lanes, lanes + kLanes, init);
        for (int64_t o = 0; o < outer; ++o) combine_lanes(px + (o * kept + k) * inner, inner, lanes, combine);
        po[k] = static_cast<T>(fold_lanes(lanes, combine));
      }
    };
    parallel_for(0, kept, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(outer * inner, 1)),
                 [&](int64_t begin, int64_t end) { run_vectorized(slots, begin, end); });
    return;
  }
  // Any other layout: one pass in memory order, a contiguous run of the last
  // block at a time.
  std::vector<Acc> acc(static_cast<size_t>(out_n), init);
  int64_t out_stride[kMaxRank];
  for (int64_t b = nb - 1, stride = 1; b >= 0; --b) {
    out_stride[b] = blocks[b].reduced ? 0 : stride;
    if (!blocks[b].reduced) stride *= blocks[b].size;
  }
  const int64_t run = blocks[nb - 1].size;
  const bool run_reduced = blocks[nb - 1].reduced;
  int64_t index[kMaxRank] = {};
  int64_t out_offset = 0;
  const int64_t n = x.numel();
  for (int64_t base = 0; base < n; base += run) {
    const T* in = px + base;
    if (run_reduced) {
      Acc a = acc[out_offset];
      for (int64_t j = 0; j < run; ++j) a = combine(a, static_cast<Acc>(in[j]));
      acc[out_offset] = a;
    } else {
      Acc* slots = acc.data() + out_offset;
      for (int64_t j = 0; j < run; ++j) slots[j] = combine(slots[j], static_cast<Acc>(in[j]));
    }
    for (int b = nb - 2; b >= 0; --b) {
      ++index[b];
      out_offset += out_stride[b];
      if (index[b] < blocks[b].size) break;
      out_offset -= out_stride[b] * blocks[b].size;
      index[b] = 0;
    }
  }
  for (int64_t i = 0; i < out_n; ++i) po[i] = static_cast<T>(acc[i]);
}

}  // namespace

TensorMeta infer_reduce(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  const Shape& shape = in[0].shape();
  Dims axes = reduced_axes(def, shape, attrs.axes);
  if (def.kind == OpKind::kMax) {
    for (int64_t a : axes) {
      GRAFT_CHECK_AS(ShapeError, shape[static_cast<int>(a)] > 0, def.name, ": cannot reduce axis ", a,
                     " of shape ", shape.to_string(), ": it is empty");
    }
  }
  if (attrs.keepdims) return {keepdims_shape(shape, axes), in[0].dtype()};
  Dims dims;
  for (int d = 0, k = 0; d < shape.rank(); ++d) {
    if (k < axes.size() && axes[k] == d) {
      ++k;
    } else {
      dims.push_back(shape[d]);
    }
  }
  return {Shape(dims), in[0].dtype()};
}

void sum_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  Dims axes = reduced_axes(op_def(OpKind::kSum), in[0].shape(), attrs.axes);
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    // float32 sums accumulate in double along rows; exact for int64.
    using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
    // int64 sums wrap modulo 2^64 as add() does (no undefined overflow).
    reduce_kernel<T, Acc>(in[0], out, axes, Acc(0), [](Acc a, Acc b) { return wrapping_add(a, b); });
  });
}

void max_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  Dims axes = reduced_axes(op_def(OpKind::kMax), in[0].shape(), attrs.axes);
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    reduce_kernel<T, T>(in[0], out, axes, std::numeric_limits<T>::lowest(),
                        [](T a, T b) { return b > a || b != b ? b : a; });
  });
}

void sum_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Shape& shape = c.inputs[0].shape();
  Dims axes = reduced_axes(op_def(OpKind::kSum), shape, c.attrs.axes);
  grad[0] = broadcast_to(reshape(c.grad_output, keepdims_shape(shape, axes)), shape);
}

// The gradient is split evenly among the elements that attain the maximum.
void max_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& x = c.inputs[0];
  Dims axes = reduced_axes(op_def(OpKind::kMax), x.shape(), c.attrs.axes);
  Shape kept = keepdims_shape(x.shape(), axes);
  Tensor is_max = equal(x, reshape(c.output, kept));
  Tensor count = sum(is_max, axes, ReduceOptions().keepdims(true));
  grad[0] = is_max * (reshape(c.grad_output, kept) / count);
}

}  // namespace graft::ops::internal
