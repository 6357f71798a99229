// Optimizer updates as one pass over a variable: sgd_update (plain, momentum,
// Nesterov, L2 weight decay) and adam_update (Adam with L2 decay, AdamW).
//
// Each kernel is the same scalar math, in the same order and the same dtype,
// as the composition of graft ops the optimizers used before (graft/optim),
// so a fused step is bit-for-bit the step it replaces: every intermediate is
// rounded to T, the scalar hyperparameters are cast to T as scalar_like()
// casts them, and this file is built with -ffp-contract=off so no a*b+c is
// contracted into a fused multiply-add that the separate ops never did.
// tests/ops/update_ops_test.cc compares the two bit for bit.
//
// The slot inputs (momentum, m, v) are state: the kernel reads and rewrites
// them in place, the only kernels allowed to write an input. The output is
// the variable's new value; the caller assigns it (or passes the variable's
// own buffer as `out`: each element is read before it is written).
#include <cmath>
#include <initializer_list>

#include "graft/ops/internal/kernels.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/simd.h"

namespace graft::ops::internal {
namespace {

// p (input 0) is float; every other input has its dtype; inputs in `state`
// have its shape, inputs in `scalars` one element.
void check_inputs(const OpDef& def, std::span<const Tensor> in, std::initializer_list<size_t> state,
                  std::initializer_list<size_t> scalars) {
  const Tensor& p = in[0];
  GRAFT_CHECK_AS(DTypeError, is_floating(p.dtype()), def.name, ": the variable must be float32 or float64, got ",
                 dtype_name(p.dtype()));
  for (size_t i = 1; i < in.size(); ++i) {
    GRAFT_CHECK_AS(DTypeError, in[i].dtype() == p.dtype(), def.name, ": input ", i, " is ",
                   dtype_name(in[i].dtype()), ", the variable ", dtype_name(p.dtype()),
                   "\n  help: gradients, slots and rates share the variable's dtype; cast() first");
  }
  for (size_t i : state) {
    GRAFT_CHECK_AS(ShapeError, in[i].shape() == p.shape(), def.name, ": input ", i, " has shape ",
                   in[i].shape().to_string(), ", the variable ", p.shape().to_string(),
                   "\n  help: gradients and slots have their variable's shape");
  }
  for (size_t i : scalars) {
    GRAFT_CHECK_AS(ShapeError, in[i].numel() == 1, def.name, ": input ", i,
                   " must be a scalar (a rate or a bias correction), got shape ", in[i].shape().to_string());
  }
}

}  // namespace

// Inputs: p, g, lr, then the momentum slot when attrs.update.momentum != 0.
TensorMeta infer_sgd_update(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  const bool momentum = attrs.update.momentum != 0;
  GRAFT_CHECK(in.size() == (momentum ? 4u : 3u), def.name, ": expected ", momentum ? 4 : 3,
              " inputs (variable, gradient, learning rate", momentum ? ", momentum slot" : "", "), got ",
              in.size());
  GRAFT_CHECK(attrs.update.momentum != 0 || !attrs.update.nesterov, def.name, ": Nesterov needs momentum > 0");
  if (momentum) {
    check_inputs(def, in, {1, 3}, {2});
  } else {
    check_inputs(def, in, {1}, {2});
  }
  return {in[0].shape(), in[0].dtype()};
}

namespace {

// One SGD step's scalars, cast to T as scalar_like() casts them; `buf` is
// null without momentum.
template <typename T>
struct SgdArgs {
  const T* p;
  const T* g;
  T* buf;
  T* o;
  T lr, wd, mu;
  bool decay, nesterov;
};

// Elements [begin, end); aliasing and vectorisation as adam_range below.
template <typename T>
[[gnu::always_inline]] inline void sgd_range(const SgdArgs<T>& a, int64_t begin, int64_t end) {
  if (a.buf == nullptr) {
#pragma GCC ivdep
    for (int64_t i = begin; i < end; ++i) {
      const T pi = a.p[i];
      const T gi = a.decay ? a.g[i] + pi * a.wd : a.g[i];  // g + p * weight_decay
      a.o[i] = pi - a.lr * gi;
    }
    return;
  }
#pragma GCC ivdep
  for (int64_t i = begin; i < end; ++i) {
    const T pi = a.p[i];
    const T gi = a.decay ? a.g[i] + pi * a.wd : a.g[i];
    const T next = a.buf[i] * a.mu + gi;  // momentum * buf + g
    a.buf[i] = next;
    a.o[i] = pi - a.lr * (a.nesterov ? gi + next * a.mu : next);
  }
}

template <typename T>
void sgd_range_baseline(const SgdArgs<T>& a, int64_t begin, int64_t end) {
  sgd_range(a, begin, end);
}
template <typename T>
GRAFT_TARGET_AVX512 void sgd_range_avx512(const SgdArgs<T>& a, int64_t begin, int64_t end) {
  sgd_range(a, begin, end);
}

}  // namespace

void sgd_update_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const UpdateAttrs& u = attrs.update;
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      SgdArgs<T> a;
      a.p = in[0].data<T>();
      a.g = in[1].data<T>();
      a.lr = in[2].data<T>()[0];
      a.buf = u.momentum != 0 ? const_cast<T*>(in[3].data<T>()) : nullptr;
      a.o = out.data<T>();
      a.wd = static_cast<T>(u.weight_decay);
      a.mu = static_cast<T>(u.momentum);
      a.decay = u.weight_decay != 0;
      a.nesterov = u.nesterov;
      const bool avx512 = cpu_has_avx512();
      parallel_for(0, out.numel(), kParallelGrain, [&a, avx512](int64_t begin, int64_t end) {
        if (avx512) {
          sgd_range_avx512(a, begin, end);
        } else {
          sgd_range_baseline(a, begin, end);
        }
      });
    }
  });
}

// Inputs: p, g, m, v, lr, 1 - beta1^t, 1 - beta2^t.
TensorMeta infer_adam_update(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  check_inputs(def, in, {1, 2, 3}, {4, 5, 6});
  return {in[0].shape(), in[0].dtype()};
}

namespace {

// One Adam step's scalars, cast to T as scalar_like() casts them.
template <typename T>
struct AdamArgs {
  const T* p;
  const T* g;
  T* m;
  T* v;
  T* o;
  T lr, bias1, bias2, wd, shrink, beta1, one_minus_beta1, beta2, one_minus_beta2, eps;
  bool l2, decoupled;
};

// Elements [begin, end). `o` may be `p` itself; any other pair is disjoint, so
// no element of one iteration is touched by another (ivdep), and the loop
// vectorises: per element it is the same IEEE operations in the same order,
// whatever the vector width (the file is built with -fno-math-errno, so sqrt
// is an instruction, not a call, and -ffp-contract=off).
template <typename T>
[[gnu::always_inline]] inline void adam_range(const AdamArgs<T>& a, int64_t begin, int64_t end) {
#pragma GCC ivdep
  for (int64_t i = begin; i < end; ++i) {
    T pi = a.p[i];
    T gi = a.g[i];
    gi = a.l2 ? gi + pi * a.wd : gi;
    pi = a.decoupled ? pi * a.shrink : pi;
    const T m_next = a.m[i] * a.beta1 + gi * a.one_minus_beta1;
    const T v_next = a.v[i] * a.beta2 + (gi * gi) * a.one_minus_beta2;
    a.m[i] = m_next;
    a.v[i] = v_next;
    a.o[i] = pi - a.lr * (m_next / a.bias1) / (std::sqrt(v_next / a.bias2) + a.eps);
  }
}

// The same loop compiled for the baseline ISA and for AVX-512, chosen from the
// CPU: a division and a square root per element were a third of an Adam
// training step, and 16 lanes do them 4x faster than the baseline's 4.
template <typename T>
void adam_range_baseline(const AdamArgs<T>& a, int64_t begin, int64_t end) {
  adam_range(a, begin, end);
}
template <typename T>
GRAFT_TARGET_AVX512 void adam_range_avx512(const AdamArgs<T>& a, int64_t begin, int64_t end) {
  adam_range(a, begin, end);
}
}  // namespace

void adam_update_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const UpdateAttrs& u = attrs.update;
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      AdamArgs<T> a;
      a.p = in[0].data<T>();
      a.g = in[1].data<T>();
      a.m = const_cast<T*>(in[2].data<T>());
      a.v = const_cast<T*>(in[3].data<T>());
      a.o = out.data<T>();
      a.lr = in[4].data<T>()[0];
      a.bias1 = in[5].data<T>()[0];
      a.bias2 = in[6].data<T>()[0];
      a.l2 = u.weight_decay != 0 && !u.decoupled;
      a.decoupled = u.weight_decay != 0 && u.decoupled;
      a.wd = static_cast<T>(u.weight_decay);
      a.shrink = static_cast<T>(1.0) - a.lr * a.wd;  // 1 - lr * weight_decay, as scalar ops in T
      a.beta1 = static_cast<T>(u.beta1);
      a.one_minus_beta1 = static_cast<T>(1.0 - u.beta1);
      a.beta2 = static_cast<T>(u.beta2);
      a.one_minus_beta2 = static_cast<T>(1.0 - u.beta2);
      a.eps = static_cast<T>(u.eps);
      // A division and a square root per element: a quarter of the usual
      // grain already pays for a worker.
      const bool avx512 = cpu_has_avx512();
      parallel_for(0, out.numel(), kParallelGrain / 4, [&a, avx512](int64_t begin, int64_t end) {
        if (avx512) {
          adam_range_avx512(a, begin, end);
        } else {
          adam_range_baseline(a, begin, end);
        }
      });
    }
  });
}

}  // namespace graft::ops::internal
