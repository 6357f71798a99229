// Fused neural-network kernels: softmax and log_softmax over an axis, and
// sparse softmax cross-entropy. Each is one pass over the data instead of the
// five ops and four temporaries of its composition (max, sub, exp, sum, div),
// and stable: exp() only ever sees x - max(x) <= 0.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {
namespace {

// Accumulate float32 sums of exponentials in double, as sum() does.
template <typename T>
using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;

// softmax (or log_softmax when kLog) of x along `axis`, x viewed as
// [outer, n, inner].
template <typename T, bool kLog>
void softmax_kernel(const Tensor& x, const Tensor& out, int axis) {
  const Shape& shape = x.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (int d = axis + 1; d < shape.rank(); ++d) inner *= shape[d];
  const int64_t n = shape[axis];
  if (n == 0 || x.numel() == 0) return;
  const T* px = x.data<T>();
  T* po = out.data<T>();
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / (n * inner));
  if (inner == 1) {
    parallel_for(0, outer, grain, [&](int64_t first, int64_t last) {
      for (int64_t o = first; o < last; ++o) {
        const T* row = px + o * n;
        T* dst = po + o * n;
        T m = row[0];
        for (int64_t j = 1; j < n; ++j) m = row[j] > m ? row[j] : m;
        Acc<T> s = 0;
        for (int64_t j = 0; j < n; ++j) {
          T e = std::exp(row[j] - m);
          s += e;
          if constexpr (!kLog) dst[j] = e;
        }
        if constexpr (kLog) {
          const T shift = m + static_cast<T>(std::log(s));
          for (int64_t j = 0; j < n; ++j) dst[j] = row[j] - shift;
        } else {
          const T scale = static_cast<T>(Acc<T>(1) / s);
          for (int64_t j = 0; j < n; ++j) dst[j] *= scale;
        }
      }
    });
    return;
  }
  // Inner > 1: walk the n rows of `inner` contiguous values, keeping one
  // running max and sum per column.
  parallel_for(0, outer, grain, [&](int64_t first, int64_t last) {
    std::vector<T> m(static_cast<size_t>(inner));
    std::vector<Acc<T>> s(static_cast<size_t>(inner));
    for (int64_t o = first; o < last; ++o) {
      const T* block = px + o * n * inner;
      T* dst = po + o * n * inner;
      std::copy(block, block + inner, m.begin());
      for (int64_t j = 1; j < n; ++j) {
        for (int64_t k = 0; k < inner; ++k) m[k] = block[j * inner + k] > m[k] ? block[j * inner + k] : m[k];
      }
      std::fill(s.begin(), s.end(), Acc<T>(0));
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t k = 0; k < inner; ++k) {
          T e = std::exp(block[j * inner + k] - m[k]);
          s[k] += e;
          if constexpr (!kLog) dst[j * inner + k] = e;
        }
      }
      for (int64_t k = 0; k < inner; ++k) {
        if constexpr (kLog) {
          m[k] += static_cast<T>(std::log(s[k]));  // m becomes the log-sum-exp
        } else {
          s[k] = Acc<T>(1) / s[k];
        }
      }
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t k = 0; k < inner; ++k) {
          if constexpr (kLog) {
            dst[j * inner + k] = block[j * inner + k] - m[k];
          } else {
            dst[j * inner + k] *= static_cast<T>(s[k]);
          }
        }
      }
    }
  });
}

template <bool kLog>
void softmax_forward_impl(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const int axis = normalize_axis(attrs.axis, in[0].rank(), op_name(kLog ? OpKind::kLogSoftmax : OpKind::kSoftmax));
  visit_floating(out.dtype(), op_name(kLog ? OpKind::kLogSoftmax : OpKind::kSoftmax),
                 [&]<typename T>(T) { softmax_kernel<T, kLog>(in[0], out, axis); });
}

}  // namespace

TensorMeta infer_softmax(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  GRAFT_CHECK_AS(ShapeError, in[0].rank() >= 1, def.name, ": expected a tensor of rank >= 1, got shape ",
                 in[0].shape().to_string());
  normalize_axis(attrs.axis, in[0].rank(), def.name);
  return {in[0].shape(), in[0].dtype()};
}

void softmax_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  softmax_forward_impl<false>(in, out, attrs);
}

void log_softmax_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  softmax_forward_impl<true>(in, out, attrs);
}

// With y = softmax(x): dx = y * (g - sum(g * y, axis)).
void softmax_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& y = c.output;
  Tensor gy = sum(c.grad_output * y, {c.attrs.axis}, ReduceOptions().keepdims(true));
  grad[0] = y * (c.grad_output - gy);
}

// With y = log_softmax(x): dx = g - exp(y) * sum(g, axis).
void log_softmax_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = c.grad_output - exp(c.output) * sum(c.grad_output, {c.attrs.axis}, ReduceOptions().keepdims(true));
}

TensorMeta infer_sparse_softmax_cross_entropy(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  const Tensor& logits = in[0];
  const Tensor& labels = in[1];
  check_floating(def, logits, 0);
  GRAFT_CHECK_AS(DTypeError, labels.dtype() == DType::kInt64, def.name, ": labels (input 1) must be int64, got ",
                 dtype_name(labels.dtype()), "\n  help: cast(labels, DType::kInt64)");
  GRAFT_CHECK_AS(ShapeError, logits.rank() == 2 && labels.rank() == 1 && labels.dim(0) == logits.dim(0), def.name,
                 ": expected logits [N, C] and labels [N], got logits ", logits.shape().to_string(), " and labels ",
                 labels.shape().to_string());
  return {Shape{logits.dim(0)}, logits.dtype()};
}

// loss[i] = logsumexp(x[i]) - x[i, label[i]], with the row max factored out
// of the log-sum-exp.
void sparse_softmax_cross_entropy_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  const OpDef& def = op_def(OpKind::kSparseSoftmaxCrossEntropy);
  const int64_t n = in[0].dim(0), classes = in[0].dim(1);
  check_index_range(def, in[1], classes, "label", ::graft::base::internal::str(classes, " classes (C)"));
  const int64_t* labels = in[1].data<int64_t>();
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      const T* px = in[0].data<T>();
      T* po = out.data<T>();
      parallel_for(0, n, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(classes, 1)),
                   [&](int64_t first, int64_t last) {
                     for (int64_t i = first; i < last; ++i) {
                       const T* row = px + i * classes;
                       T m = row[0];
                       for (int64_t j = 1; j < classes; ++j) m = row[j] > m ? row[j] : m;
                       Acc<T> s = 0;
                       for (int64_t j = 0; j < classes; ++j) s += std::exp(row[j] - m);
                       po[i] = static_cast<T>(static_cast<Acc<T>>(m - row[labels[i]]) + std::log(s));
                     }
                   });
    }
  });
}

// d loss[i] / d x[i, j] = softmax(x[i])[j] - [j == label[i]].
void sparse_softmax_cross_entropy_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& logits = c.inputs[0];
  Tensor target = one_hot(c.inputs[1], logits.dim(1), logits.dtype());
  grad[0] = (softmax(logits, -1) - target) * reshape(c.grad_output, {logits.dim(0), 1});
}

}  // namespace graft::ops::internal
