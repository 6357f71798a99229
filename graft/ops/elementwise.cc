// Elementwise ops: creation by fill, binary and unary arithmetic, comparisons,
// where and cast, with NumPy broadcasting.
#include <cmath>
#include <cstring>

#include "graft/ops/internal/broadcast.h"
#include "graft/ops/internal/elementwise_math.h"
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/simd.h"

namespace graft::ops::internal {

Shape broadcast_shapes(const OpDef& def, const Shape& a, const Shape& b) {
  int rank = std::max(a.rank(), b.rank());
  Dims dims;
  for (int i = 0; i < rank; ++i) {
    int ia = i - (rank - a.rank());
    int ib = i - (rank - b.rank());
    int64_t da = ia >= 0 ? a[ia] : 1;
    int64_t db = ib >= 0 ? b[ib] : 1;
    GRAFT_CHECK_AS(ShapeError, da == db || da == 1 || db == 1, def.name, ": shapes ", a.to_string(), " and ",
                   b.to_string(), " do not broadcast: axis ", i - rank, " has ", da, " vs ", db,
                   "\n  help: sizes must match or be 1 (NumPy rules); reshape one operand first");
    dims.push_back(da == 1 ? db : da);
  }
  return Shape(dims);
}

void check_same_dtype(const OpDef& def, std::span<const Tensor> in) {
  for (size_t i = 1; i < in.size(); ++i) {
    GRAFT_CHECK_AS(DTypeError, in[i].dtype() == in[0].dtype(), def.name, ": input 0 is ",
                   dtype_name(in[0].dtype()), " but input ", i, " is ", dtype_name(in[i].dtype()),
                   "\n  help: graft never mixes dtypes silently; cast() one input first");
  }
}

void check_floating(const OpDef& def, const Tensor& t, int index) {
  GRAFT_CHECK_AS(DTypeError, is_floating(t.dtype()), def.name, ": input ", index,
                 " must be float32 or float64, got ", dtype_name(t.dtype()));
}

TensorMeta infer_fill(const OpDef& def, std::span<const Tensor>, const OpAttrs& attrs) {
  GRAFT_CHECK(attrs.dtype != DType::kInt64 || fits_int64(attrs.scalar), def.name, ": the value ", attrs.scalar,
              " does not fit int64 (expected a finite value in [-2^63, 2^63))",
              "\n  help: use a float dtype for non-finite or larger values");
  return {attrs.shape, attrs.dtype};
}

TensorMeta infer_binary(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  check_same_dtype(def, in);
  return {broadcast_shapes(def, in[0].shape(), in[1].shape()), in[0].dtype()};
}

TensorMeta infer_binary_float(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  check_floating(def, in[0], 0);
  return infer_binary(def, in, attrs);
}

TensorMeta infer_unary(const OpDef&, std::span<const Tensor> in, const OpAttrs&) {
  return {in[0].shape(), in[0].dtype()};
}

TensorMeta infer_unary_float(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  check_floating(def, in[0], 0);
  return {in[0].shape(), in[0].dtype()};
}

TensorMeta infer_where(const OpDef& def, std::span<const Tensor> in, const OpAttrs&) {
  check_same_dtype(def, in.subspan(1));
  Shape shape = broadcast_shapes(def, broadcast_shapes(def, in[0].shape(), in[1].shape()), in[2].shape());
  return {shape, in[1].dtype()};
}

TensorMeta infer_cast(const OpDef&, std::span<const Tensor> in, const OpAttrs& attrs) {
  return {in[0].shape(), attrs.dtype};
}

namespace {

template <typename T, typename F>
void binary_kernel(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel();
  if (a.numel() == n && b.numel() == n) {
    parallel_for(0, n, kParallelGrain, [=](int64_t begin, int64_t end) {
      run_vectorized([=](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) po[i] = f(pa[i], pb[i]);
      }, begin, end);
    });
  } else if (b.numel() == 1 && a.numel() == n) {
    const T s = pb[0];
    parallel_for(0, n, kParallelGrain, [=](int64_t begin, int64_t end) {
      run_vectorized([=](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) po[i] = f(pa[i], s);
      }, begin, end);
    });
  } else if (a.numel() == 1 && b.numel() == n) {
    const T s = pa[0];
    parallel_for(0, n, kParallelGrain, [=](int64_t begin, int64_t end) {
      run_vectorized([=](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) po[i] = f(s, pb[i]);
      }, begin, end);
    });
  } else {
    for_each_broadcast_row<2>(out.shape(), {&a.shape(), &b.shape()},
                              [=](int64_t o, std::array<int64_t, 2> off, std::array<int64_t, 2> step, int64_t len) {
                                const T* ra = pa + off[0];
                                const T* rb = pb + off[1];
                                T* ro = po + o;
                                run_vectorized([=](int64_t begin, int64_t end) {
                                  if (step[0] == 1 && step[1] == 1) {
                                    for (int64_t j = begin; j < end; ++j) ro[j] = f(ra[j], rb[j]);
                                  } else if (step[0] == 1) {
                                    for (int64_t j = begin; j < end; ++j) ro[j] = f(ra[j], rb[0]);
                                  } else if (step[1] == 1) {
                                    for (int64_t j = begin; j < end; ++j) ro[j] = f(ra[0], rb[j]);
                                  } else {
                                    for (int64_t j = begin; j < end; ++j) ro[j] = f(ra[0], rb[0]);
                                  }
                                }, 0, len);
                              });
  }
}

template <typename T, typename F>
void unary_kernel(const Tensor& x, const Tensor& out, F f) {
  const T* px = x.data<T>();
  T* po = out.data<T>();
  parallel_for(0, out.numel(), kParallelGrain, [=](int64_t begin, int64_t end) {
    run_vectorized([=](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = f(px[i]);
    }, begin, end);
  });
}

// Runs an elementwise op's scalar math (elementwise_math.h) over tensors.
// Ops whose inference admits floating point only are never instantiated for
// integers.
template <typename Math>
void elementwise_forward(std::span<const Tensor> in, const Tensor& out, Math math) {
  auto run = [&]<typename T>(T) {
    if constexpr (Math::kArity == 1) {
      unary_kernel<T>(in[0], out, math);
    } else {
      static_assert(Math::kArity == 2, "where() has a kernel of its own");
      binary_kernel<T>(in[0], in[1], out, math);
    }
  };
  if constexpr (Math::kFloatingOnly) {
    visit_floating(out.dtype(), op_name(Math::kKind), run);
  } else {
    visit_dtype(out.dtype(), run);
  }
}

// The zero of g's dtype, for where().
Tensor zero_like_scalar(const Tensor& g) { return scalar_like(0.0, g); }

}  // namespace

void fill_forward(std::span<const Tensor>, const Tensor& out, const OpAttrs& attrs) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    T* p = out.data<T>();
    const T v = static_cast<T>(attrs.scalar);
    std::fill(p, p + out.numel(), v);
  });
}

// The scalar math of each op lives in elementwise_math.h, shared with the
// fused loops of compiled graphs; these rows only pick the functor.
void add_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, AddMath{});
}
void sub_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, SubMath{});
}
void mul_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, MulMath{});
}
void div_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  if (in[1].dtype() == DType::kInt64) {
    const int64_t* pb = in[1].data<int64_t>();
    for (int64_t i = 0, n = in[1].numel(); i < n; ++i) {
      GRAFT_CHECK(pb[i] != 0, op_name(OpKind::kDiv), ": integer division by zero (divisor element ", i,
                  " is 0)");
    }
  }
  elementwise_forward(in, out, DivMath{});
}
void pow_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, PowMath{});
}
void maximum_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, MaximumMath{});
}
void minimum_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, MinimumMath{});
}
void equal_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, EqualMath{});
}
void not_equal_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, NotEqualMath{});
}
void less_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, LessMath{});
}
void less_equal_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, LessEqualMath{});
}
void greater_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, GreaterMath{});
}
void greater_equal_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, GreaterEqualMath{});
}

void where_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  visit_dtype(in[0].dtype(), [&]<typename C>(C) {
    visit_dtype(out.dtype(), [&]<typename T>(T) {
      const C* pc = in[0].data<C>();
      const T* pa = in[1].data<T>();
      const T* pb = in[2].data<T>();
      T* po = out.data<T>();
      for_each_broadcast_row<3>(
          out.shape(), {&in[0].shape(), &in[1].shape(), &in[2].shape()},
          [=](int64_t o, std::array<int64_t, 3> off, std::array<int64_t, 3> step, int64_t len) {
            const WhereMath math;
            for (int64_t j = 0; j < len; ++j) {
              po[o + j] = math(pc[off[0] + j * step[0]], pa[off[1] + j * step[1]], pb[off[2] + j * step[2]]);
            }
          });
    });
  });
}

void neg_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, NegMath{});
}
void exp_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, ExpMath{});
}
void log_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, LogMath{});
}
void sqrt_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, SqrtMath{});
}
void tanh_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, TanhMath{});
}
void sigmoid_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, SigmoidMath{});
}
void relu_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, ReluMath{});
}
void abs_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, AbsMath{});
}
void square_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, SquareMath{});
}
void sign_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  elementwise_forward(in, out, SignMath{});
}
void copy_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  if (out.nbytes() > 0) std::memcpy(out.raw_data(), in[0].raw_data(), out.nbytes());
}

void cast_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs&) {
  visit_dtype(in[0].dtype(), [&]<typename S>(S) {
    visit_dtype(out.dtype(), [&]<typename T>(T) {
      const S* ps = in[0].data<S>();
      T* po = out.data<T>();
      const int64_t n = out.numel();
      if constexpr (std::is_floating_point_v<S> && std::is_integral_v<T>) {
        // Converting NaN, an infinity or an out-of-range value to an integer
        // is undefined behaviour (x86 gives INT64_MIN for all of them).
        for (int64_t i = 0; i < n; ++i) {
          GRAFT_CHECK(fits_int64(static_cast<double>(ps[i])), op_name(OpKind::kCast), ": element ", i, " of ",
                      in[0].shape().to_string(), " is ", ps[i], ", which ", dtype_name(out.dtype()),
                      " cannot hold (expected a finite value in [-2^63, 2^63))",
                      "\n  help: replace non-finite values first, e.g. where(equal(x, x), x, zeros_like(x)), "
                      "and clamp with minimum/maximum");
        }
      }
      // The count read once: out.numel() in the condition is a call per
      // element and keeps the loop from vectorising.
      for (int64_t i = 0; i < n; ++i) po[i] = static_cast<T>(ps[i]);
    });
  });
}

// --- Vector-Jacobian products --------------------------------------------

void add_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = sum_to(c.grad_output, c.inputs[0].shape());
  grad[1] = sum_to(c.grad_output, c.inputs[1].shape());
}

void sub_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = sum_to(c.grad_output, c.inputs[0].shape());
  grad[1] = sum_to(-c.grad_output, c.inputs[1].shape());
}

void mul_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = sum_to(c.grad_output * c.inputs[1], c.inputs[0].shape());
  grad[1] = sum_to(c.grad_output * c.inputs[0], c.inputs[1].shape());
}

// d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -(a/b)/b
void div_vjp(const VjpContext& c, std::span<Tensor> grad) {
  Tensor g_over_b = c.grad_output / c.inputs[1];
  grad[0] = sum_to(g_over_b, c.inputs[0].shape());
  grad[1] = sum_to(-(g_over_b * c.output), c.inputs[1].shape());
}

// d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log(a), taken as 0 where a <= 0.
void pow_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  grad[0] = sum_to(c.grad_output * b * pow(a, b - 1.0), a.shape());
  Tensor zero = zero_like_scalar(a);
  Tensor safe_log = where(greater(a, zero), log(where(greater(a, zero), a, ones_like(a))), zero);
  grad[1] = sum_to(c.grad_output * c.output * safe_log, b.shape());
}

// Ties send the gradient to the first input.
void maximum_vjp(const VjpContext& c, std::span<Tensor> grad) {
  Tensor to_a = greater_equal(c.inputs[0], c.inputs[1]);
  grad[0] = sum_to(c.grad_output * to_a, c.inputs[0].shape());
  grad[1] = sum_to(c.grad_output * (1.0 - to_a), c.inputs[1].shape());
}

void minimum_vjp(const VjpContext& c, std::span<Tensor> grad) {
  Tensor to_a = less_equal(c.inputs[0], c.inputs[1]);
  grad[0] = sum_to(c.grad_output * to_a, c.inputs[0].shape());
  grad[1] = sum_to(c.grad_output * (1.0 - to_a), c.inputs[1].shape());
}

void where_vjp(const VjpContext& c, std::span<Tensor> grad) {
  Tensor zero = zero_like_scalar(c.grad_output);
  grad[1] = sum_to(where(c.inputs[0], c.grad_output, zero), c.inputs[1].shape());
  grad[2] = sum_to(where(c.inputs[0], zero, c.grad_output), c.inputs[2].shape());
}

void neg_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = -c.grad_output; }
// d/dx exp(x) = exp(x)
void exp_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = c.grad_output * c.output; }
// d/dx log(x) = 1/x
void log_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = c.grad_output / c.inputs[0]; }
// d/dx sqrt(x) = 1 / (2 sqrt(x))
void sqrt_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = c.grad_output * 0.5 / c.output; }
// d/dx tanh(x) = 1 - tanh(x)^2
void tanh_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = c.grad_output * (1.0 - square(c.output));
}
// d/dx sigmoid(x) = s (1 - s)
void sigmoid_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = c.grad_output * c.output * (1.0 - c.output);
}
void relu_vjp(const VjpContext& c, std::span<Tensor> grad) {
  grad[0] = c.grad_output * greater(c.inputs[0], zero_like_scalar(c.inputs[0]));
}
void abs_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = c.grad_output * sign(c.inputs[0]); }
// d/dx x^2 = 2x
void square_vjp(const VjpContext& c, std::span<Tensor> grad) { grad[0] = c.grad_output * (2.0 * c.inputs[0]); }

void cast_vjp(const VjpContext& c, std::span<Tensor> grad) {
  if (is_floating(c.inputs[0].dtype()) && is_floating(c.grad_output.dtype())) {
    grad[0] = cast(c.grad_output, c.inputs[0].dtype());
  }
}

}  // namespace graft::ops::internal
