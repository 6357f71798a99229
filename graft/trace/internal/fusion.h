// graft/trace/internal/fusion.h: chains of elementwise ops run as one loop.
//
// A fused group evaluates its member ops block by block (kBlock elements at a
// time, in registers that stay in cache) and writes only the values used
// outside the group. Inputs from outside are read whole (same shape as the
// group), as a scalar, or as a row repeated along the leading axes (a bias).
#pragma once

#include <vector>

#include "graft/trace/graph.h"

namespace graft::trace::internal {

enum class InputMode : uint8_t { kFull, kScalar, kRow };

struct FusedInput {
  int value;  // graph value id
  InputMode mode;
  int64_t row = 0;  // elements per row, for kRow
};

// An operand: an input (index into inputs) or a register (a member's result).
struct Operand {
  bool is_input;
  int index;
};

struct FusedInstruction {
  OpKind kind;
  int dst;  // register
  Operand src[3];
  int arity;
};

struct FusedGroup {
  std::vector<int> nodes;  // member node indices, in program order
  TensorMeta meta;         // every member's output
  std::vector<FusedInput> inputs;
  std::vector<FusedInstruction> program;
  int registers = 0;
  std::vector<std::pair<int, int>> outputs;  // (register, value id) written out
};

// Whether `kind` can be a member of a fused group.
bool fusable(OpKind kind);
// How an input of `shape` is read by a group of `group` shape, or false when
// it cannot be (a broadcast that is neither scalar nor row).
bool input_mode(const Shape& shape, const Shape& group, InputMode* mode, int64_t* row);

// Runs the group: `inputs` by group input, `outputs` by group output.
void run_fused(const FusedGroup& group, std::span<const Tensor> inputs, std::span<const Tensor> outputs);

}  // namespace graft::trace::internal
