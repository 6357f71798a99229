#include "graft/vars/initializers.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "graft/tensor/random.h"

namespace graft::init {
namespace {

struct Fans {
  double in;
  double out;
};

Fans fans(const Shape& shape) {
  if (shape.rank() < 2) {
    double n = static_cast<double>(shape.numel());
    return {n, n};
  }
  double out = static_cast<double>(shape[shape.rank() - 1]);
  return {static_cast<double>(shape.numel()) / std::max(out, 1.0), out};
}

void check_floating_target(const Tensor& out, const std::string& name) {
  GRAFT_CHECK_AS(DTypeError, is_floating(out.dtype()), "initializer ", name,
                 " needs a float32 or float64 variable, got ", dtype_name(out.dtype()),
                 "\n  help: use init::zeros(), init::constant() or init::from_tensor() for int64 variables");
}

Initializer random_init(std::string name, void (*fill)(const Tensor&, uint64_t, double, double),
                        std::function<std::pair<double, double>(const Shape&)> params) {
  return Initializer(name, [name, fill, params](const Tensor& out, uint64_t seed) {
    check_floating_target(out, name);
    auto [a, b] = params(out.shape());
    fill(out, seed, a, b);
  });
}

void fill_uniform_tensor(const Tensor& out, uint64_t seed, double low, double high) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) fill_uniform(out.data<T>(), out.numel(), seed, low, high);
  });
}

void fill_normal_tensor(const Tensor& out, uint64_t seed, double mean, double stddev) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) fill_normal(out.data<T>(), out.numel(), seed, mean, stddev);
  });
}

void fill_truncated_tensor(const Tensor& out, uint64_t seed, double mean, double stddev) {
  visit_dtype(out.dtype(), [&]<typename T>(T) {
    if constexpr (std::is_floating_point_v<T>) fill_truncated_normal(out.data<T>(), out.numel(), seed, mean, stddev);
  });
}

}  // namespace

Initializer constant(double value) {
  return Initializer("constant(" + std::to_string(value) + ")", [value](const Tensor& out, uint64_t) {
    visit_dtype(out.dtype(), [&]<typename T>(T) {
      T* p = out.data<T>();
      std::fill(p, p + out.numel(), static_cast<T>(value));
    });
  });
}

Initializer zeros() { return Initializer("zeros", constant(0.0)); }
Initializer ones() { return Initializer("ones", constant(1.0)); }

Initializer from_tensor(const Tensor& value) {
  return Initializer("from_tensor", [value](const Tensor& out, uint64_t) {
    check_shape(value, out.shape(), "init::from_tensor");
    GRAFT_CHECK_AS(DTypeError, value.dtype() == out.dtype(), "init::from_tensor: the variable is ",
                   dtype_name(out.dtype()), " but the value is ", dtype_name(value.dtype()));
    out.copy_from(value);
  });
}

Initializer uniform(double low, double high) {
  return random_init("uniform", fill_uniform_tensor, [=](const Shape&) { return std::pair{low, high}; });
}

Initializer normal(double mean, double stddev) {
  return random_init("normal", fill_normal_tensor, [=](const Shape&) { return std::pair{mean, stddev}; });
}

Initializer truncated_normal(double mean, double stddev) {
  return random_init("truncated_normal", fill_truncated_tensor, [=](const Shape&) { return std::pair{mean, stddev}; });
}

Initializer glorot_uniform() {
  return random_init("glorot_uniform", fill_uniform_tensor, [](const Shape& s) {
    Fans f = fans(s);
    double limit = std::sqrt(6.0 / std::max(f.in + f.out, 1.0));
    return std::pair{-limit, limit};
  });
}

Initializer glorot_normal() {
  return random_init("glorot_normal", fill_normal_tensor, [](const Shape& s) {
    Fans f = fans(s);
    return std::pair{0.0, std::sqrt(2.0 / std::max(f.in + f.out, 1.0))};
  });
}

Initializer he_uniform() {
  return random_init("he_uniform", fill_uniform_tensor, [](const Shape& s) {
    double limit = std::sqrt(6.0 / std::max(fans(s).in, 1.0));
    return std::pair{-limit, limit};
  });
}

Initializer he_normal() {
  return random_init("he_normal", fill_normal_tensor, [](const Shape& s) {
    return std::pair{0.0, std::sqrt(2.0 / std::max(fans(s).in, 1.0))};
  });
}

Initializer orthogonal(double gain) {
  return Initializer("orthogonal", [gain](const Tensor& out, uint64_t seed) {
    check_floating_target(out, "orthogonal");
    const Shape& shape = out.shape();
    GRAFT_CHECK_AS(ShapeError, shape.rank() >= 2, "initializer orthogonal needs a variable of rank >= 2, got ",
                   shape.to_string());
    const int64_t cols = shape[shape.rank() - 1];
    const int64_t rows = shape.numel() / std::max<int64_t>(cols, 1);
    // Orthonormalise the shorter side's vectors: columns when rows >= cols
    // (orthonormal columns), else rows (orthonormal rows).
    const bool by_rows = rows < cols;
    const int64_t count = by_rows ? rows : cols;
    const int64_t length = by_rows ? cols : rows;
    std::vector<double> v(static_cast<size_t>(count * length));
    fill_normal(v.data(), static_cast<int64_t>(v.size()), seed, 0.0, 1.0);
    // Modified Gram-Schmidt, twice for numerical orthogonality. Runs once
    // per variable at creation, never in a training step.
    for (int pass = 0; pass < 2; ++pass) {
      for (int64_t i = 0; i < count; ++i) {
        double* vi = &v[static_cast<size_t>(i * length)];
        for (int64_t j = 0; j < i; ++j) {
          const double* vj = &v[static_cast<size_t>(j * length)];
          double dot = 0;
          for (int64_t k = 0; k < length; ++k) dot += vi[k] * vj[k];
          for (int64_t k = 0; k < length; ++k) vi[k] -= dot * vj[k];
        }
        double norm = 0;
        for (int64_t k = 0; k < length; ++k) norm += vi[k] * vi[k];
        norm = std::sqrt(norm);
        for (int64_t k = 0; k < length; ++k) vi[k] /= norm;
      }
    }
    visit_dtype(out.dtype(), [&]<typename T>(T) {
      T* p = out.data<T>();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
          double x = by_rows ? v[static_cast<size_t>(r * length + c)] : v[static_cast<size_t>(c * length + r)];
          p[r * cols + c] = static_cast<T>(gain * x);
        }
      }
    });
  });
}

}  // namespace graft::init
