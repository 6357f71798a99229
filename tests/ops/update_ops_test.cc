// The one-pass optimizer updates against the compositions of graft ops they
// replace (the optimizers' code before them), bit for bit: new values and
// slots, float32 and float64, every option, sizes below and above the
// parallel grain; and their errors.
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "graft/ops/ops.h"
#include "tests/testing.h"

namespace graft {
namespace {

using test_util::error_text;

// Bitwise equality, so a different rounding anywhere fails.
void expect_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  ASSERT_EQ(std::memcmp(got.raw_data(), want.raw_data(), got.nbytes()), 0)
      << what << ": first values " << got.to_vector<double>()[0] << " vs " << want.to_vector<double>()[0];
}

// SGD as graft/optim/sgd.cc wrote it in separate ops.
Tensor sgd_reference(const Tensor& p, const Tensor& grad, const Tensor& lr, Tensor* buf, const UpdateAttrs& a) {
  Tensor g = grad;
  if (a.weight_decay != 0) g = g + p * a.weight_decay;
  if (a.momentum == 0) return p - lr * g;
  Tensor next = *buf * a.momentum + g;
  *buf = next;
  return p - lr * (a.nesterov ? g + next * a.momentum : next);
}

// Adam as graft/optim/adam.cc wrote it in separate ops.
Tensor adam_reference(const Tensor& p0, const Tensor& grad, Tensor* m, Tensor* v, const Tensor& lr,
                      const Tensor& bias1, const Tensor& bias2, const UpdateAttrs& a) {
  Tensor p = p0;
  Tensor g = grad;
  if (a.weight_decay != 0 && !a.decoupled) g = g + p * a.weight_decay;
  if (a.weight_decay != 0 && a.decoupled) p = p * (1.0 - lr * a.weight_decay);
  Tensor m_next = *m * a.beta1 + g * (1.0 - a.beta1);
  Tensor v_next = *v * a.beta2 + square(g) * (1.0 - a.beta2);
  *m = m_next;
  *v = v_next;
  return p - lr * (m_next / bias1) / (sqrt(v_next / bias2) + a.eps);
}

const std::vector<Shape> kShapes = {{1}, {7, 3}, {37}, {300, 251}};  // the last spans several grains

UpdateAttrs sgd_attrs(double momentum, bool nesterov, double weight_decay) {
  UpdateAttrs a;
  a.momentum = momentum;
  a.nesterov = nesterov;
  a.weight_decay = weight_decay;
  return a;
}

TEST(UpdateOpsTest, SgdUpdateIsTheSeparateOpsBitForBit) {
  const std::vector<UpdateAttrs> configs = {sgd_attrs(0, false, 0), sgd_attrs(0, false, 0.1),
                                            sgd_attrs(0.9, false, 0), sgd_attrs(0.9, true, 0),
                                            sgd_attrs(0.5, false, 0.1), sgd_attrs(0.5, true, 0.01)};
  uint64_t seed = 1;
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const UpdateAttrs& a : configs) {
      for (const Shape& shape : kShapes) {
        const std::string what = std::string(dtype_name(dtype)) + " momentum " + std::to_string(a.momentum) +
                                 (a.nesterov ? " nesterov" : "") + " decay " + std::to_string(a.weight_decay) +
                                 " " + shape.to_string();
        Tensor p = random_normal(shape, seed++, 0.0, 1.0, dtype);
        Tensor lr = full({}, 0.037, dtype);
        Tensor buf = a.momentum != 0 ? random_normal(shape, seed++, 0.0, 0.1, dtype) : Tensor();
        Tensor ref_buf = buf.defined() ? buf.clone() : Tensor();
        // Three steps, so the slot carries state from one update to the next.
        Tensor p_fused = p.clone(), p_ref = p.clone();
        for (int step = 0; step < 3; ++step) {
          Tensor g = random_normal(shape, seed++, 0.0, 1.0, dtype);
          p_fused = sgd_update(p_fused, g, lr, buf, a);
          p_ref = sgd_reference(p_ref, g, lr, &ref_buf, a);
          expect_same_bits(p_fused, p_ref, what + ": value, step " + std::to_string(step));
          if (buf.defined()) expect_same_bits(buf, ref_buf, what + ": momentum slot, step " + std::to_string(step));
        }
      }
    }
  }
}

UpdateAttrs adam_attrs(double weight_decay, bool decoupled) {
  UpdateAttrs a;
  a.beta1 = 0.9;
  a.beta2 = 0.999;
  a.eps = 1e-8;
  a.weight_decay = weight_decay;
  a.decoupled = decoupled;
  return a;
}

TEST(UpdateOpsTest, AdamUpdateIsTheSeparateOpsBitForBit) {
  uint64_t seed = 100;
  for (DType dtype : {DType::kFloat32, DType::kFloat64}) {
    for (const UpdateAttrs& a : {adam_attrs(0, false), adam_attrs(0.1, false), adam_attrs(0.01, true)}) {
      for (const Shape& shape : kShapes) {
        const std::string what = std::string(dtype_name(dtype)) + " decay " + std::to_string(a.weight_decay) +
                                 (a.decoupled ? " decoupled " : " ") + shape.to_string();
        Tensor p_fused = random_normal(shape, seed++, 0.0, 1.0, dtype);
        Tensor p_ref = p_fused.clone();
        Tensor m = zeros(shape, dtype), v = zeros(shape, dtype);
        Tensor m_ref = m.clone(), v_ref = v.clone();
        Tensor lr = full({}, 1e-3, dtype);
        for (int step = 1; step <= 3; ++step) {
          Tensor t = full({}, step, dtype);
          Tensor bias1 = 1.0 - pow(scalar_like(a.beta1, t), t);
          Tensor bias2 = 1.0 - pow(scalar_like(a.beta2, t), t);
          Tensor g = random_normal(shape, seed++, 0.0, 1.0, dtype);
          p_fused = adam_update(p_fused, g, m, v, lr, bias1, bias2, a);
          p_ref = adam_reference(p_ref, g, &m_ref, &v_ref, lr, bias1, bias2, a);
          const std::string at = what + ", step " + std::to_string(step);
          expect_same_bits(p_fused, p_ref, at + ": value");
          expect_same_bits(m, m_ref, at + ": m");
          expect_same_bits(v, v_ref, at + ": v");
        }
      }
    }
  }
}

TEST(UpdateOpsTest, BadInputsNameTheOpAndWhatWasFound) {
  Tensor p = zeros({3, 2});
  Tensor lr = full({}, 0.1, DType::kFloat32);
  std::string what = error_text<ShapeError>([&] { sgd_update(p, zeros({2, 3}), lr, Tensor(), {}); });
  GRAFT_EXPECT_CONTAINS(what, "sgd_update: input 1 has shape [2, 3], the variable [3, 2]");
  what = error_text<DTypeError>([&] { sgd_update(p, zeros({3, 2}, DType::kFloat64), lr, Tensor(), {}); });
  GRAFT_EXPECT_CONTAINS(what, "sgd_update: input 1 is float64, the variable float32");
  what = error_text<ShapeError>([&] { sgd_update(p, zeros({3, 2}), zeros({2}), Tensor(), {}); });
  GRAFT_EXPECT_CONTAINS(what, "must be a scalar");
  what = error_text<ValueError>([&] { sgd_update(p, zeros({3, 2}), lr, Tensor(), sgd_attrs(0.9, false, 0)); });
  GRAFT_EXPECT_CONTAINS(what, "sgd_update: expected 4 inputs");
  what = error_text<DTypeError>([&] {
    Tensor i = zeros({2}, DType::kInt64);
    adam_update(i, i, i, i, full({}, 1, DType::kInt64), full({}, 1, DType::kInt64), full({}, 1, DType::kInt64),
                adam_attrs(0, false));
  });
  GRAFT_EXPECT_CONTAINS(what, "adam_update: the variable must be float32 or float64, got int64");
}

}  // namespace
}  // namespace graft
