// Matrix products through OpenBLAS (graft/tensor/blas.h): matmul, and linear
// (x w + b with an optional activation, the bias folded into the product).
#include <algorithm>
#include <cstring>
#include <tuple>
#include <utility>

#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/blas.h"
#include "graft/tensor/parallel.h"

namespace graft::ops::internal {
namespace {

struct MatMulDims {
  int64_t batch;  // products to run (1 when the batch folds into rows)
  int64_t m, n, k;
  bool fold;      // a's batch folded into m (rank >= 3 x rank 2, no transpose_a)
};

MatMulDims matmul_dims(const Shape& a, const Shape& b, const OpAttrs& attrs) {
  int ra = a.rank(), rb = b.rank();
  MatMulDims d{};
  d.m = attrs.transpose_a ? a[ra - 1] : a[ra - 2];
  d.k = attrs.transpose_a ? a[ra - 2] : a[ra - 1];
  d.n = attrs.transpose_b ? b[rb - 2] : b[rb - 1];
  d.batch = 1;
  for (int i = 0; i < ra - 2; ++i) d.batch *= a[i];
  d.fold = rb == 2 && ra > 2;
  if (d.fold) {
    d.m *= d.batch;
    d.batch = 1;
  }
  return d;
}

}  // namespace

TensorMeta infer_matmul(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  const Shape& a = in[0].shape();
  const Shape& b = in[1].shape();
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  GRAFT_CHECK_AS(ShapeError, a.rank() >= 2 && b.rank() >= 2, def.name,
                 ": expected operands of rank >= 2, got ", a.to_string(), " and ", b.to_string(),
                 "\n  help: reshape a vector to [1, n] or [n, 1]");
  int ra = a.rank(), rb = b.rank();
  int64_t ka = attrs.transpose_a ? a[ra - 2] : a[ra - 1];
  int64_t kb = attrs.transpose_b ? b[rb - 1] : b[rb - 2];
  GRAFT_CHECK_AS(ShapeError, ka == kb, def.name, ": inner dimensions differ: a ", a.to_string(),
                 attrs.transpose_a ? " (transposed)" : "", " gives ", ka, ", b ", b.to_string(),
                 attrs.transpose_b ? " (transposed)" : "", " gives ", kb);
  if (rb > 2) {
    bool same_batch = ra == rb;
    for (int i = 0; same_batch && i < ra - 2; ++i) same_batch = a[i] == b[i];
    GRAFT_CHECK_AS(ShapeError, same_batch, def.name, ": batch dimensions differ: a ", a.to_string(), ", b ",
                   b.to_string(), "\n  help: batched products need equal batch dimensions; broadcast_to first");
  } else if (ra > 2) {
    GRAFT_CHECK_AS(ShapeError, !attrs.transpose_a, def.name, ": transpose_a is not supported for a batched a ",
                   a.to_string(), " with a matrix b ", b.to_string(),
                   "\n  help: transpose a with transpose() or permute() first");
  }
  Dims dims;
  for (int i = 0; i < ra - 2; ++i) dims.push_back(a[i]);
  dims.push_back(attrs.transpose_a ? a[ra - 1] : a[ra - 2]);
  dims.push_back(attrs.transpose_b ? b[rb - 2] : b[rb - 1]);
  return {Shape(dims), in[0].dtype()};
}

void matmul_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  MatMulDims d = matmul_dims(in[0].shape(), in[1].shape(), attrs);
  int64_t lda = attrs.transpose_a ? d.m : d.k;
  int64_t ldb = attrs.transpose_b ? d.k : d.n;
  int64_t a_step = d.m * d.k;
  int64_t b_step = in[1].rank() > 2 ? d.k * d.n : 0;
  int64_t c_step = d.m * d.n;
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      const T* a = in[0].data<T>();
      const T* b = in[1].data<T>();
      T* c = out.data<T>();
      for (int64_t i = 0; i < d.batch; ++i) {
        blas::gemm(attrs.transpose_a, attrs.transpose_b, d.m, d.n, d.k, T(1), a + i * a_step, lda,
                   b + i * b_step, ldb, T(0), c + i * c_step, d.n);
      }
    }
  });
}

namespace {

// One gradient as a product op(x) op(y).
struct Product {
  const Tensor& x;
  const Tensor& y;
  bool tx, ty;

  Tensor run() const { return matmul(x, y, MatmulOptions().transpose_a(tx).transpose_b(ty)); }
  OpAttrs attrs() const {
    OpAttrs out;
    out.transpose_a = tx;
    out.transpose_b = ty;
    return out;
  }
};

// Two independent products of `work` multiply-adds each (a gradient's two
// halves): side by side on two threads where that pays (apply_side_by_side,
// blas::pair_pays), else one after the other.
std::pair<Tensor, Tensor> both_products(const Product& first, const Product& second, int64_t work) {
  const Tensor in1[] = {first.x, first.y};
  const Tensor in2[] = {second.x, second.y};
  return apply_side_by_side({OpKind::kMatMul, in1, first.attrs()}, {OpKind::kMatMul, in2, second.attrs()},
                            blas::pair_pays(work, work));
}

}  // namespace

// With C = op(A) op(B):
//   (ta, tb) = (0, 0): dA = dC B^T,     dB = A^T dC
//   (0, 1):            dA = dC B,       dB = dC^T A
//   (1, 0):            dA = B dC^T,     dB = A dC
//   (1, 1):            dA = B^T dC^T,   dB = dC^T A^T
void matmul_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  const Tensor& g = c.grad_output;
  bool ta = c.attrs.transpose_a, tb = c.attrs.transpose_b;
  // Each product runs only when its input needs a gradient (a layer's input
  // batch never does).
  const bool da = c.needs(0), db = c.needs(1);
  if (a.rank() > 2 && b.rank() == 2) {
    // Folded batch: work on the [rows, k] and [rows, n] matrices.
    Tensor g2 = reshape(g, {-1, g.dim(-1)});
    if (da) grad[0] = reshape(tb ? matmul(g2, b) : matmul(g2, b, MatmulOptions().transpose_b(true)), a.shape());
    if (db) {
      Tensor a2 = reshape(a, {-1, a.dim(-1)});
      const MatmulOptions t_first = MatmulOptions().transpose_a(true);
      grad[1] = tb ? matmul(g2, a2, t_first) : matmul(a2, g2, t_first);
    }
    return;
  }
  const Product for_a = !ta && !tb ? Product{g, b, false, true}
                        : !ta      ? Product{g, b, false, false}
                        : !tb      ? Product{b, g, false, true}
                                   : Product{b, g, true, true};
  const Product for_b = !ta && !tb ? Product{a, g, true, false}
                        : !ta      ? Product{g, a, true, false}
                        : !tb      ? Product{a, g, false, false}
                                   : Product{g, a, true, true};
  if (da && db) {
    // Both products have the forward's m * n * k multiply-adds.
    std::tie(grad[0], grad[1]) = both_products(for_a, for_b, g.numel() * (ta ? a.dim(0) : a.dim(1)));
  } else if (da) {
    grad[0] = for_a.run();
  } else if (db) {
    grad[1] = for_b.run();
  }
}

// linear: inputs x [..., k], w [k, n] and optionally b [n]; attrs.activation
// is kRelu, kTanh, kSigmoid or kCount (none).
TensorMeta infer_linear(const OpDef& def, std::span<const Tensor> in, const OpAttrs& attrs) {
  GRAFT_CHECK(in.size() == 2 || in.size() == 3, def.name, ": expected 2 or 3 inputs (x, w[, b]), got ", in.size());
  check_floating(def, in[0], 0);
  check_same_dtype(def, in);
  const Shape& x = in[0].shape();
  const Shape& w = in[1].shape();
  GRAFT_CHECK_AS(ShapeError, x.rank() >= 2 && w.rank() == 2 && x[x.rank() - 1] == w[0], def.name,
                 ": expected x [..., k] (rank >= 2) and w [k, n], got x ", x.to_string(), " and w ", w.to_string(),
                 "\n  help: the last axis of x is the input feature size, the kernel's first axis");
  if (in.size() == 3) {
    const Shape& b = in[2].shape();
    GRAFT_CHECK_AS(ShapeError, b.rank() == 1 && b[0] == w[1], def.name, ": expected a bias of shape [", w[1],
                   "] (one per output feature of w ", w.to_string(), "), got ", b.to_string());
  }
  const OpKind a = attrs.activation;
  GRAFT_CHECK(a == OpKind::kRelu || a == OpKind::kTanh || a == OpKind::kSigmoid || a == OpKind::kCount, def.name,
              ": activation '", a == OpKind::kCount ? std::string_view("none") : op_name(a),
              "' cannot be fused\n  help: use relu, tanh, sigmoid or none, and apply any other after the op");
  Dims dims;
  for (int i = 0; i + 1 < x.rank(); ++i) dims.push_back(x[i]);
  dims.push_back(w[1]);
  return {Shape(dims), in[0].dtype()};
}

void linear_forward(std::span<const Tensor> in, const Tensor& out, const OpAttrs& attrs) {
  const int64_t k = in[1].dim(0), n = in[1].dim(1);
  const int64_t m = k == 0 ? out.numel() / std::max<int64_t>(n, 1) : in[0].numel() / k;
  const bool bias = in.size() == 3;
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) {
      T* c = out.data<T>();
      if (bias) {
        // Every row starts as the bias; the product adds onto it (beta = 1).
        const T* b = in[2].data<T>();
        parallel_for(0, m, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(n, 1)),
                     [=](int64_t begin, int64_t end) {
                       for (int64_t r = begin; r < end; ++r) std::memcpy(c + r * n, b, sizeof(T) * n);
                     });
      }
      if (m > 0 && n > 0) {
        if (k > 0) {
          blas::gemm(false, false, m, n, k, T(1), in[0].data<T>(), k, in[1].data<T>(), n, bias ? T(1) : T(0), c, n);
        } else if (!bias) {
          std::fill(c, c + m * n, T(0));
        }
      }
    }
  });
  // The activation in place over the output, with the unfused op's kernel
  // (the same scalar math); elementwise, so reading and writing `out` is safe.
  if (attrs.activation != OpKind::kCount) op_def(attrs.activation).forward(std::span<const Tensor>(&out, 1), out, {});
}

// With z = x w + b and y = act(z): dz = dy act'(z), written with y as the
// activations' own VJPs write it; dx = dz w^T, dw = x^T dz, db = the sum of
// dz over every row. A batched x folds into rows.
void linear_vjp(const VjpContext& c, std::span<Tensor> grad) {
  const Tensor& y = c.output;
  Tensor dz = c.grad_output;
  const OpKind a = c.attrs.activation;  // kCount: none
  if (a == OpKind::kRelu) {
    dz = dz * greater(y, scalar_like(0.0, y));
  } else if (a == OpKind::kTanh) {
    dz = dz * (1.0 - square(y));
  } else if (a == OpKind::kSigmoid) {
    dz = dz * y * (1.0 - y);
  }
  const Tensor& x = c.inputs[0];
  const Tensor& w = c.inputs[1];
  const bool batched = x.rank() > 2;
  Tensor dz2 = batched ? reshape(dz, {-1, dz.dim(-1)}) : dz;
  Tensor x2 = batched && c.needs(1) ? reshape(x, {-1, x.dim(-1)}) : x;
  const Product for_x{dz2, w, false, true}, for_w{x2, dz2, true, false};
  Tensor dx;
  if (c.needs(0) && c.needs(1)) {
    std::tie(dx, grad[1]) = both_products(for_x, for_w, dz2.numel() * w.dim(0));
  } else if (c.needs(0)) {
    dx = for_x.run();
  } else if (c.needs(1)) {
    grad[1] = for_w.run();
  }
  if (c.needs(0)) grad[0] = batched ? reshape(dx, x.shape()) : dx;
  if (c.inputs.size() == 3 && c.needs(2)) grad[2] = sum(dz2, {0});
}

}  // namespace graft::ops::internal
