// graft/trace/graph.h: the graph a graft::function capture produces.
//
// A graph is a straight-line program in SSA form: values (arguments, tensors
// read by reference such as variables, folded constants, node outputs) and
// nodes in the order the captured code ran them. Assign nodes write a value
// into a variable's buffer; the executor never reorders across them.
//
//   std::cout << graph.to_text();   // one line per value and node
//   graph.to_dot();                 // Graphviz, for `dot -Tsvg`
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "graft/ops/op_table.h"

namespace graft::trace {

enum class ValueSource : uint8_t { kArgument, kExternal, kConstant, kNode };

struct Value {
  TensorMeta meta;
  ValueSource source;
  int index;  // argument position, external or constant index, or node index
};

struct Node {
  OpKind kind = OpKind::kCount;
  OpAttrs attrs;
  std::vector<int> inputs;  // value ids
  int output = -1;          // value id; -1 for an assign
  bool assign = false;      // externals[value(inputs[0]).index] <- inputs[1]
  // A host call (see host_call() in function.h): run in program order.
  std::function<void()> host;
  std::string host_name;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  // Tensors read by reference at run time: a variable's buffer, or a tensor
  // made outside the function. Named by variable path, or "constant".
  std::vector<Tensor> externals;
  std::vector<std::string> external_names;
  // Values computed once when the graph is prepared (constant folding).
  std::vector<Tensor> constants;
  std::vector<int> arguments;  // value ids, in call order
  std::vector<int> outputs;    // value ids

  int add_value(const TensorMeta& meta, ValueSource source, int index);
  // Human-readable listing, one line per value definition and node.
  std::string to_text() const;
  // Graphviz dot.
  std::string to_dot() const;
  // Number of nodes that are neither assigns nor host calls.
  size_t op_count() const;
};

std::string meta_text(const TensorMeta& meta);

}  // namespace graft::trace
