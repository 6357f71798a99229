// graft/ops/op_table.h: one row per OpKind: name, arity, shape inference,
// forward kernel and vector-Jacobian product.
//
//   const OpDef& def = op_def(OpKind::kMatMul);
//   def.name;  // "matmul"
//
// Error messages take op names from here, never typed by hand.
#pragma once

#include <span>
#include <string_view>

#include "graft/ops/op_kind.h"
#include "graft/tensor/tensor.h"

namespace graft {

struct TensorMeta {
  Shape shape;
  DType dtype;
};

// The arguments of a vector-Jacobian product. grad_in has one slot per input,
// each undefined on entry; an op leaves a slot undefined where no gradient
// flows (an integer input, a comparison).
struct VjpContext {
  std::span<const Tensor> inputs;
  const Tensor& output;
  const Tensor& grad_output;
  const OpAttrs& attrs;
  // Bit i is set when input i needs a gradient. A VJP may leave the slot of
  // an input whose bit is clear undefined and skip its work (the tape never
  // asks for it); computing it anyway is correct, only slower.
  uint64_t needs_grad = ~uint64_t{0};
  bool needs(size_t i) const { return i >= 64 || ((needs_grad >> i) & 1) != 0; }
};

inline constexpr int kVariadic = -1;

struct OpDef {
  OpKind kind;
  const char* name;
  int arity;  // number of inputs, or kVariadic
  // Checks inputs and attributes (throwing ShapeError or DTypeError that name
  // the op and what was found) and returns the output's shape and dtype.
  TensorMeta (*infer)(const OpDef& def, std::span<const Tensor> inputs, const OpAttrs& attrs);
  // Writes the result into `out`, already allocated with the inferred meta.
  // Unused when view_of_input is set.
  void (*forward)(std::span<const Tensor> inputs, const Tensor& out, const OpAttrs& attrs);
  // Gradients written in graft ops, so they can be recorded and captured too.
  // Null for ops that pass no gradient.
  void (*vjp)(const VjpContext& ctx, std::span<Tensor> grad_inputs);
  // The output shares input 0's buffer (reshape).
  bool view_of_input = false;
};

const OpDef& op_def(OpKind kind);
std::string_view op_name(OpKind kind);

}  // namespace graft
