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
