#include "graft/nn/batch_norm.h"

#include "graft/base/check.h"
#include "graft/ops/ops.h"

namespace graft::nn {
namespace {

std::string expected_shape(int rank, int64_t channels) {
  std::string c = channels > 0 ? std::to_string(channels) : std::string("C");
  return rank == 2 ? "[N, " + c + "]" : rank == 4 ? "[N, " + c + ", H, W]" : "[N, " + c + "] or [N, " + c + ", H, W]";
}

}  // namespace

BatchNorm::BatchNorm(BatchNormOptions options, std::source_location location)
    : Module("batch_norm", location), options_(options) {
  GRAFT_CHECK(options_.momentum() > 0.0 && options_.momentum() <= 1.0,
              "BatchNormOptions: momentum must be in (0, 1], got ", options_.momentum());
  GRAFT_CHECK(options_.eps() > 0.0, "BatchNormOptions: eps must be positive, got ", options_.eps());
}

void BatchNorm::check_input(const Tensor& x) const {
  const bool rank_ok = input_rank_ == 0 ? (x.rank() == 2 || x.rank() == 4) : x.rank() == input_rank_;
  GRAFT_CHECK_AS(ShapeError, rank_ok && (num_features_ == 0 || x.dim(1) == num_features_), "BatchNorm '", path(),
                 "' expected an input of shape ", expected_shape(input_rank_, num_features_), ", received shape ",
                 x.shape().to_string(),
                 num_features_ > 0 ? "\n  help: a BatchNorm's channel count and rank are fixed by its first call; "
                                     "give it inputs of that shape, or use another layer"
                                   : "\n  help: BatchNorm normalises [batch, features] or [batch, channels, height, "
                                     "width] inputs; reshape the input first");
}

void BatchNorm::on_build(const Shape& input_shape, DType dtype) {
  GRAFT_CHECK_AS(DTypeError, is_floating(dtype), "BatchNorm '", path(), "' needs a float32 or float64 input, received ",
                 dtype_name(dtype), "\n  help: cast() the input first");
  input_rank_ = input_shape.rank();
  num_features_ = input_shape[1];
  const Shape shape{num_features_};
  VariableOptions vo = VariableOptions().dtype(dtype);
  if (options_.affine()) {
    gamma_ = add_variable("gamma", shape, init::ones(), vo);
    beta_ = add_variable("beta", shape, init::zeros(), vo);
  }
  VariableOptions stats = VariableOptions().dtype(dtype).trainable(false);
  moving_mean_ = add_variable("moving_mean", shape, init::zeros(), stats);
  moving_variance_ = add_variable("moving_variance", shape, init::ones(), stats);
}

Tensor BatchNorm::per_channel(const Tensor& v) const {
  return input_rank_ == 2 ? reshape(v, {1, num_features_}) : reshape(v, {1, num_features_, 1, 1});
}

Tensor BatchNorm::forward(const Tensor& x) {
  check_input(x);
  ensure_built(x);
  if (is_training()) {
    // One fused op (statistics, normalisation and affine; its backward two
    // passes over x) where the composed form took about a dozen each way.
    const Shape c{num_features_};
    const Tensor y = options_.affine() ? batch_norm(x, gamma_, beta_, options_.eps())
                                       : batch_norm(x, ones(c, x.dtype()), zeros(c, x.dtype()), options_.eps());
    // Running statistics, outside the gradient. The variance fed in is the
    // unbiased estimate, as PyTorch keeps it.
    const Tensor stats = stop_gradient(batch_norm_stats(x));
    const double n = static_cast<double>(x.numel() / num_features_);
    const double m = options_.momentum();
    const double unbias = n > 1 ? n / (n - 1) : 1.0;
    auto row = [&](int64_t r) { return reshape(slice(stats, {r, 0}, {r + 1, num_features_}), c); };
    moving_mean_.assign(moving_mean_.value() * (1.0 - m) + row(0) * m);
    moving_variance_.assign(moving_variance_.value() * (1.0 - m) + row(1) * (m * unbias));
    return y;
  }
  const Tensor normalized =
      (x - per_channel(moving_mean_)) / sqrt(per_channel(moving_variance_) + options_.eps());
  if (!options_.affine()) return normalized;
  return normalized * per_channel(gamma_) + per_channel(beta_);
}

void BatchNorm::replace_parameters(const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                                   const Tensor& moving_variance, std::string_view reason,
                                   std::source_location location) {
  GRAFT_CHECK(moving_mean_.defined(), "BatchNorm '", path(), "': replace_parameters needs a built layer\n"
              "  help: run the model once (or build()) before editing it");
  const Shape c{moving_mean.numel()};
  auto check = [&](const Tensor& t, const char* name, bool wanted) {
    GRAFT_CHECK_AS(ShapeError, wanted == t.defined() && (!t.defined() || t.shape() == c), "BatchNorm '", path(),
                   "': replace_parameters expected ", wanted ? "a " + std::string(name) + " of shape " + c.to_string()
                                                             : "no " + std::string(name),
                   ", got ", t.defined() ? "shape " + t.shape().to_string() : std::string("none"));
  };
  check(moving_mean, "moving_mean", true);
  check(moving_variance, "moving_variance", true);
  check(gamma, "gamma", options_.affine());
  check(beta, "beta", options_.affine());
  for (const Variable* v : {&gamma_, &beta_, &moving_mean_, &moving_variance_}) {
    if (v->defined()) store().retire(*v, reason, location);
  }
  num_features_ = c[0];
  VariableOptions vo = VariableOptions().dtype(moving_mean.dtype());
  if (options_.affine()) {
    gamma_ = add_variable("gamma", c, init::from_tensor(gamma), vo);
    beta_ = add_variable("beta", c, init::from_tensor(beta), vo);
  }
  VariableOptions stats = VariableOptions().dtype(moving_mean.dtype()).trainable(false);
  moving_mean_ = add_variable("moving_mean", c, init::from_tensor(moving_mean), stats);
  moving_variance_ = add_variable("moving_variance", c, init::from_tensor(moving_variance), stats);
}

std::string BatchNorm::describe() const {
  std::string text = input_rank_ == 2 ? "BatchNorm1d(" : input_rank_ == 4 ? "BatchNorm2d(" : "BatchNorm(";
  text += num_features_ > 0 ? std::to_string(num_features_) : std::string("?");
  if (!options_.affine()) text += ", no affine";
  return text + ")";
}

}  // namespace graft::nn
