#include "graft/nn/layers.h"

#include "graft/base/check.h"
#include "graft/ops/ops.h"
#include "graft/tensor/random.h"

namespace graft::nn {

namespace {

// After a switch over every Activation: a value outside the enum.
[[noreturn]] void throw_invalid_activation(Activation activation) {
  GRAFT_CHECK(false, "invalid nn::Activation value ", static_cast<int>(activation),
              "\n  help: use one of Activation::kNone, kRelu, kTanh, kSigmoid");
  __builtin_unreachable();
}

}  // namespace

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::kRelu: return "relu";
    case Activation::kTanh: return "tanh";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kNone: return "none";
  }
  throw_invalid_activation(activation);
}

Tensor apply_activation(Activation activation, const Tensor& x) {
  switch (activation) {
    case Activation::kRelu: return relu(x);
    case Activation::kTanh: return tanh(x);
    case Activation::kSigmoid: return sigmoid(x);
    case Activation::kNone: return x;
  }
  throw_invalid_activation(activation);
}

// --- Linear ------------------------------------------------------------------

namespace {

// The activation the linear op applies in its own pass over the output.
OpKind fused_activation(Activation activation) {
  switch (activation) {
    case Activation::kNone: return OpKind::kCount;
    case Activation::kRelu: return OpKind::kRelu;
    case Activation::kTanh: return OpKind::kTanh;
    case Activation::kSigmoid: return OpKind::kSigmoid;
  }
  throw_invalid_activation(activation);
}

}  // namespace

Linear::Linear(LinearOptions options, std::source_location location)
    : Module("linear", location), options_(std::move(options)) {
  GRAFT_CHECK(options_.out_features() > 0, "LinearOptions: out_features must be positive, got ",
              options_.out_features());
}

void Linear::on_build(const Shape& input_shape, DType dtype) {
  GRAFT_CHECK_AS(DTypeError, is_floating(dtype), "Linear '", path(), "' needs a float32 or float64 input, received ",
                 dtype_name(dtype), "\n  help: cast() the input first");
  in_features_ = input_shape[input_shape.rank() - 1];
  VariableOptions vo = VariableOptions().dtype(dtype);
  kernel_ = add_variable("kernel", {in_features_, options_.out_features()}, options_.kernel_init(), vo);
  if (options_.bias()) bias_ = add_variable("bias", {options_.out_features()}, options_.bias_init(), vo);
}

void Linear::replace_weights(const Tensor& kernel, const Tensor& bias, std::string_view reason,
                             std::source_location location) {
  GRAFT_CHECK(kernel_.defined(), "Linear '", path(), "': replace_weights needs a built layer\n"
              "  help: run the model once (or build()) before editing it");
  GRAFT_CHECK_AS(ShapeError, kernel.rank() == 2, "Linear '", path(), "': a kernel must be [in, out], got ",
                 kernel.shape().to_string());
  GRAFT_CHECK_AS(ShapeError, options_.bias() == bias.defined() && (!bias.defined() || bias.shape() == Shape{kernel.dim(1)}),
                 "Linear '", path(), "': expected ", options_.bias() ? "a bias of shape [" + std::to_string(kernel.dim(1)) + "]" : "no bias",
                 bias.defined() ? ", got shape " + bias.shape().to_string() : std::string(", got none"));
  store().retire(kernel_, reason, location);
  if (bias_.defined()) store().retire(bias_, reason, location);
  in_features_ = kernel.dim(0);
  options_.out_features(kernel.dim(1));
  VariableOptions vo = VariableOptions().dtype(kernel.dtype());
  kernel_ = add_variable("kernel", kernel.shape(), init::from_tensor(kernel), vo);
  if (options_.bias()) bias_ = add_variable("bias", bias.shape(), init::from_tensor(bias), vo);
}

Tensor Linear::forward(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() >= 2, "Linear '", path(), "' expected an input of rank >= 2 ([batch, ",
                 in_features_ > 0 ? std::to_string(in_features_) : std::string("in_features"), "]), received shape ",
                 x.shape().to_string(), "\n  help: add a batch dimension (reshape a single example to [1, n])");
  ensure_built(x);
  check_input_dtype("Linear", x, kernel_.dtype());
  GRAFT_CHECK_AS(ShapeError, x.shape()[x.rank() - 1] == in_features_, "Linear '", path(),
                 "' expected an input of shape [..., ", in_features_, "] (it was built for ", in_features_,
                 " input features: kernel ", kernel_.shape().to_string(), "), received shape ",
                 x.shape().to_string(),
                 "\n  help: a layer's input size is fixed by its first call; give it inputs of that size, "
                 "or replace the layer");
  // One op: the bias folded into the product, the activation in place.
  return linear(x, kernel_, options_.bias() ? bias_.value() : Tensor(), fused_activation(options_.activation()));
}

std::string Linear::describe() const {
  std::string text = "Linear(";
  text += in_features_ > 0 ? std::to_string(in_features_) + " -> " : std::string("? -> ");
  text += std::to_string(options_.out_features());
  if (!options_.bias()) text += ", no bias";
  if (options_.activation() != Activation::kNone) text += std::string(", ") + activation_name(options_.activation());
  return text + ")";
}

// --- Activations ---------------------------------------------------------------

Tensor ReLU::forward(const Tensor& x) {
  ensure_built(x);
  return relu(x);
}

Tensor Tanh::forward(const Tensor& x) {
  ensure_built(x);
  return tanh(x);
}

Tensor Sigmoid::forward(const Tensor& x) {
  ensure_built(x);
  return sigmoid(x);
}

// --- Dropout -------------------------------------------------------------------

Dropout::Dropout(DropoutOptions options, std::source_location location)
    : Module("dropout", location), options_(options) {
  GRAFT_CHECK(options_.rate() >= 0.0 && options_.rate() < 1.0, "DropoutOptions: rate must be in [0, 1), got ",
              options_.rate());
}

Tensor Dropout::forward(const Tensor& x) {
  ensure_built(x);
  if (!is_training() || options_.rate() == 0.0) return x;
  GRAFT_CHECK_AS(DTypeError, is_floating(x.dtype()), "Dropout '", path(), "' needs a float32 or float64 input, received ",
                 dtype_name(x.dtype()));
  // mask = keep / (1 - rate), keep ~ Bernoulli(1 - rate), drawn from a stream
  // fixed by (seed, path, call number). A host call fills it, so inside a
  // graft::function every replay draws the next mask instead of reusing one.
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  const uint64_t base = derive_seed(options_.seed(), hash_string(path().c_str()));
  const double rate = options_.rate();
  host_call("dropout " + path(), [this, mask, base, rate] {
    const uint64_t seed = derive_seed(base, calls_++);
    const double scale = 1.0 / (1.0 - rate);
    visit_dtype(mask.dtype(), [&]<typename T>(T) {
      T* m = mask.data<T>();
      for (int64_t i = 0, n = mask.numel(); i < n; ++i) {
        m[i] = random_unit(seed, static_cast<uint64_t>(i)) < rate ? T(0) : static_cast<T>(scale);
      }
    });
  });
  return x * mask;
}

std::string Dropout::describe() const { return graft::base::internal::str("Dropout(", options_.rate(), ")"); }

}  // namespace graft::nn
