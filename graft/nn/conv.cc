#include "graft/nn/conv.h"

#include <cmath>

#include "graft/base/check.h"

namespace graft::nn {
namespace {

// He uniform over a convolution kernel's fan in (in / groups * kh * kw):
// init::he_uniform reads fans as a dense [in, out] kernel's, which is not
// this layout.
Initializer conv_he_uniform(int64_t fan_in) {
  const double limit = std::sqrt(6.0 / static_cast<double>(fan_in));
  return init::uniform(-limit, limit);
}

// Runs a window op, naming the layer in a ShapeError from it.
template <typename F>
Tensor in_layer(const Module& layer, const char* kind, F&& f) {
  try {
    return f();
  } catch (ShapeError& e) {
    e.add_context(std::string("in ") + kind + " '" + layer.path() + "'");
    throw;
  }
}

void check_nchw(const Module& layer, const char* kind, const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() == 4, kind, " '", layer.path(),
                 "' expected an input of shape [N, C, H, W], received shape ", x.shape().to_string(),
                 "\n  help: reshape flat images to [batch, channels, height, width] first");
}

std::string pool_text(const char* kind, const Pool2dOptions& o) {
  return graft::base::internal::str(kind, "(", o.kernel()[0], "x", o.kernel()[1], ", stride ", o.stride()[0], ")");
}

}  // namespace

// --- Conv2d ------------------------------------------------------------------

Conv2d::Conv2d(Conv2dOptions options, std::source_location location)
    : Module("conv", location), options_(std::move(options)) {
  GRAFT_CHECK(options_.out_channels() > 0, "Conv2dOptions: out_channels must be positive, got ",
              options_.out_channels());
  GRAFT_CHECK(options_.kernel_size()[0] > 0 && options_.kernel_size()[1] > 0,
              "Conv2dOptions: the kernel size must be positive, got ", options_.kernel_size()[0], "x",
              options_.kernel_size()[1]);
  GRAFT_CHECK(options_.out_channels() % options_.geometry().groups() == 0, "Conv2dOptions: ", options_.out_channels(),
              " output channels do not split into ", options_.geometry().groups(), " groups");
}

void Conv2d::on_build(const Shape& input_shape, DType dtype) {
  GRAFT_CHECK_AS(DTypeError, is_floating(dtype), "Conv2d '", path(), "' needs a float32 or float64 input, received ",
                 dtype_name(dtype), "\n  help: cast() the input first");
  const int64_t groups = options_.geometry().groups();
  GRAFT_CHECK_AS(ShapeError, input_shape[1] % groups == 0, "Conv2d '", path(), "' has ", groups,
                 " groups, which do not split the input's ", input_shape[1], " channels (input shape ",
                 input_shape.to_string(), ")");
  in_channels_ = input_shape[1];
  const auto [kh, kw] = options_.kernel_size();
  const Shape shape{options_.out_channels(), in_channels_ / groups, kh, kw};
  VariableOptions vo = VariableOptions().dtype(dtype);
  kernel_ = add_variable("kernel", shape, options_.kernel_init().value_or(conv_he_uniform(shape.numel() / shape[0])),
                         vo);
  if (options_.bias()) bias_ = add_variable("bias", {options_.out_channels()}, options_.bias_init(), vo);
}

Tensor Conv2d::forward(const Tensor& x) {
  check_nchw(*this, "Conv2d", x);
  ensure_built(x);
  GRAFT_CHECK_AS(ShapeError, x.dim(1) == in_channels_, "Conv2d '", path(), "' expected an input of shape [N, ",
                 in_channels_, ", H, W] (it was built for ", in_channels_, " input channels: kernel ",
                 kernel_.shape().to_string(), "), received shape ", x.shape().to_string(),
                 "\n  help: a layer's input channels are fixed by its first call; give it inputs with that many "
                 "channels, or replace the layer");
  // The bias is folded into the convolution (one op, no pass of its own).
  return in_layer(*this, "Conv2d", [&] {
    return conv2d(x, kernel_, options_.bias() ? Tensor(bias_) : Tensor(), options_.geometry());
  });
}

void Conv2d::replace_weights(const Tensor& kernel, const Tensor& bias, std::string_view reason,
                             std::source_location location) {
  GRAFT_CHECK(kernel_.defined(), "Conv2d '", path(), "': replace_weights needs a built layer\n"
              "  help: run the model once (or build()) before editing it");
  const auto [kh, kw] = options_.kernel_size();
  GRAFT_CHECK_AS(ShapeError, kernel.rank() == 4 && kernel.dim(2) == kh && kernel.dim(3) == kw, "Conv2d '", path(),
                 "': a kernel must be [out, in / groups, ", kh, ", ", kw, "], got ", kernel.shape().to_string());
  GRAFT_CHECK_AS(ShapeError, options_.bias() == bias.defined() && (!bias.defined() || bias.shape() == Shape{kernel.dim(0)}),
                 "Conv2d '", path(), "': expected ",
                 options_.bias() ? "a bias of shape [" + std::to_string(kernel.dim(0)) + "]" : std::string("no bias"),
                 bias.defined() ? ", got shape " + bias.shape().to_string() : std::string(", got none"));
  store().retire(kernel_, reason, location);
  if (bias_.defined()) store().retire(bias_, reason, location);
  in_channels_ = kernel.dim(1) * options_.geometry().groups();
  options_.out_channels_ = kernel.dim(0);
  VariableOptions vo = VariableOptions().dtype(kernel.dtype());
  kernel_ = add_variable("kernel", kernel.shape(), init::from_tensor(kernel), vo);
  if (options_.bias()) bias_ = add_variable("bias", bias.shape(), init::from_tensor(bias), vo);
}

std::string Conv2d::describe() const {
  const auto [kh, kw] = options_.kernel_size();
  std::string text = "Conv2d(";
  text += in_channels_ > 0 ? std::to_string(in_channels_) + " -> " : std::string("? -> ");
  text += graft::base::internal::str(options_.out_channels(), ", ", kh, "x", kw);
  const auto stride = options_.geometry().stride();
  if (stride[0] != 1 || stride[1] != 1) text += graft::base::internal::str(", stride ", stride[0]);
  if (options_.geometry().groups() != 1) text += graft::base::internal::str(", groups ", options_.geometry().groups());
  if (!options_.bias()) text += ", no bias";
  return text + ")";
}

// --- Pooling -----------------------------------------------------------------

Tensor MaxPool2d::forward(const Tensor& x) {
  check_nchw(*this, "MaxPool2d", x);
  ensure_built(x);
  return in_layer(*this, "MaxPool2d", [&] { return max_pool2d(x, options_); });
}

std::string MaxPool2d::describe() const { return pool_text("MaxPool2d", options_); }

Tensor AvgPool2d::forward(const Tensor& x) {
  check_nchw(*this, "AvgPool2d", x);
  ensure_built(x);
  return in_layer(*this, "AvgPool2d", [&] { return avg_pool2d(x, options_); });
}

std::string AvgPool2d::describe() const { return pool_text("AvgPool2d", options_); }

Tensor GlobalAvgPool::forward(const Tensor& x) {
  check_nchw(*this, "GlobalAvgPool", x);
  ensure_built(x);
  return global_avg_pool2d(x);
}

// --- Flatten -----------------------------------------------------------------

Tensor Flatten::forward(const Tensor& x) {
  GRAFT_CHECK_AS(ShapeError, x.rank() >= 2, "Flatten '", path(), "' expected an input of rank >= 2 ([batch, ...]), "
                 "received shape ", x.shape().to_string(), "\n  help: add a batch dimension first");
  ensure_built(x);
  return flatten(x, 1);
}

}  // namespace graft::nn
