// Matrix products through OpenBLAS (graft/tensor/blas.h).
#include "graft/ops/internal/kernels.h"
#include "graft/ops/ops.h"
#include "graft/tensor/blas.h"

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
    if (da) grad[0] = reshape(tb ? matmul(g2, b) : matmul(g2, b, false, true), a.shape());
    if (db) {
      Tensor a2 = reshape(a, {-1, a.dim(-1)});
      grad[1] = tb ? matmul(g2, a2, true, false) : matmul(a2, g2, true, false);
    }
    return;
  }
  if (!ta && !tb) {
    if (da) grad[0] = matmul(g, b, false, true);
    if (db) grad[1] = matmul(a, g, true, false);
  } else if (!ta && tb) {
    if (da) grad[0] = matmul(g, b);
    if (db) grad[1] = matmul(g, a, true, false);
  } else if (ta && !tb) {
    if (da) grad[0] = matmul(b, g, false, true);
    if (db) grad[1] = matmul(a, g);
  } else {
    if (da) grad[0] = matmul(b, g, true, true);
    if (db) grad[1] = matmul(g, a, true, true);
  }
}

}  // namespace graft::ops::internal
