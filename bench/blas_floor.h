// bench/blas_floor.h: the BLAS floor of an MLP training step, the time its
// matrix products alone take when cblas_sgemm runs them directly on
// preallocated buffers, measured in the same run as the step itself.
//
//   std::vector<MatmulShape> shapes = mlp_step_matmuls({784, 256, 256, 10}, 256);
//   SgemmSequence floor(shapes);
//   floor.run();  // every product of one step, once
//
// A step that took exactly the floor would spend nothing outside its
// matrix products; `of_floor = floor / step` says how close a step gets.
#pragma once

#include <cblas.h>

#include <cstdint>
#include <vector>

namespace graft::bench {

// One product C[m, n] = op(A) op(B) with a shared dimension k.
struct MatmulShape {
  int64_t m, n, k;
  bool transpose_a = false;
  bool transpose_b = false;
};

// The products of one forward + backward step of an MLP of `widths` at
// `batch`, as graft runs them: per layer the forward x w, the weight gradient
// x^T dz and, for every layer but the first (its input takes no gradient),
// the input gradient dz w^T.
inline std::vector<MatmulShape> mlp_step_matmuls(const std::vector<int64_t>& widths, int64_t batch) {
  std::vector<MatmulShape> out;
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const int64_t in = widths[i], units = widths[i + 1];
    out.push_back({batch, units, in});
    out.push_back({in, units, batch, /*transpose_a=*/true});
    if (i > 0) out.push_back({batch, in, units, false, /*transpose_b=*/true});
  }
  return out;
}

// Runs a list of products with cblas_sgemm on buffers made once.
class SgemmSequence {
 public:
  explicit SgemmSequence(std::vector<MatmulShape> shapes) : shapes_(std::move(shapes)) {
    for (const MatmulShape& s : shapes_) {
      a_.emplace_back(static_cast<size_t>(s.m * s.k), 0.01f);
      b_.emplace_back(static_cast<size_t>(s.k * s.n), 0.02f);
      c_.emplace_back(static_cast<size_t>(s.m * s.n), 0.0f);
    }
  }

  void run() {
    for (size_t i = 0; i < shapes_.size(); ++i) {
      const MatmulShape& s = shapes_[i];
      const auto m = static_cast<int>(s.m), n = static_cast<int>(s.n), k = static_cast<int>(s.k);
      cblas_sgemm(CblasRowMajor, s.transpose_a ? CblasTrans : CblasNoTrans, s.transpose_b ? CblasTrans : CblasNoTrans,
                  m, n, k, 1.0f, a_[i].data(), s.transpose_a ? m : k, b_[i].data(), s.transpose_b ? k : n, 0.0f,
                  c_[i].data(), n);
    }
  }

 private:
  std::vector<MatmulShape> shapes_;
  std::vector<std::vector<float>> a_, b_, c_;
};

}  // namespace graft::bench
