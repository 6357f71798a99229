#include "graft/trace/graph.h"

#include <array>
#include <sstream>

#include "graft/base/check.h"

namespace graft::trace {

int Graph::add_value(const TensorMeta& meta, ValueSource source, int index) {
  values.push_back({meta, source, index});
  return static_cast<int>(values.size()) - 1;
}

size_t Graph::op_count() const {
  size_t n = 0;
  for (const Node& node : nodes) n += node.assign || node.host ? 0 : 1;
  return n;
}

std::string meta_text(const TensorMeta& meta) {
  return std::string(dtype_name(meta.dtype)) + meta.shape.to_string();
}

namespace {

// The window attributes that differ from their defaults (kernel for the
// pools only: conv2d's comes from its weight), and a gradient's output shape.
std::string window_text(OpKind kind, const OpAttrs& a) {
  std::ostringstream out;
  const Window2d& w = a.window;
  auto pair = [&](const char* name, const std::array<int64_t, 2>& v, int64_t unset) {
    if (v[0] != unset || v[1] != unset) out << " " << name << "=" << v[0] << "x" << v[1];
  };
  const bool pool = kind == OpKind::kMaxPool2d || kind == OpKind::kMaxPool2dGrad || kind == OpKind::kAvgPool2d ||
                    kind == OpKind::kAvgPool2dGrad;
  if (pool) out << " kernel=" << w.kernel[0] << "x" << w.kernel[1];
  pair("stride", w.stride, 1);
  pair("pad_begin", w.pad_begin, 0);
  pair("pad_end", w.pad_end, 0);
  pair("dilation", w.dilation, 1);
  if (w.groups != 1) out << " groups=" << w.groups;
  if (a.shape.rank() > 0) out << " shape=" << a.shape;
  return out.str();
}

std::string attrs_text(const Node& node) {
  std::ostringstream out;
  const OpAttrs& a = node.attrs;
  switch (node.kind) {
    case OpKind::kFill: out << " value=" << a.scalar << " shape=" << a.shape; break;
    case OpKind::kSum:
    case OpKind::kMax:
      out << " axes=" << Shape(a.axes) << (a.keepdims ? " keepdims" : "");
      break;
    case OpKind::kMatMul:
      if (a.transpose_a) out << " transpose_a";
      if (a.transpose_b) out << " transpose_b";
      break;
    case OpKind::kLinear:
      if (a.activation != OpKind::kCount) out << " activation=" << op_name(a.activation);
      break;
    case OpKind::kSgdUpdate:
      out << " momentum=" << a.update.momentum << " weight_decay=" << a.update.weight_decay
          << (a.update.nesterov ? " nesterov" : "");
      break;
    case OpKind::kAdamUpdate:
      out << " beta1=" << a.update.beta1 << " beta2=" << a.update.beta2 << " eps=" << a.update.eps
          << " weight_decay=" << a.update.weight_decay << (a.update.decoupled ? " decoupled" : "");
      break;
    case OpKind::kReshape:
    case OpKind::kBroadcastTo: out << " shape=" << a.shape; break;
    case OpKind::kPermute: out << " perm=" << Shape(a.axes); break;
    case OpKind::kCast: out << " dtype=" << dtype_name(a.dtype); break;
    case OpKind::kArange: out << " start=" << a.start << " stop=" << a.stop << " step=" << a.step; break;
    case OpKind::kRandomUniform: out << " low=" << a.low << " high=" << a.high << " seed=" << a.seed; break;
    case OpKind::kRandomNormal:
    case OpKind::kTruncatedNormal: out << " mean=" << a.mean << " stddev=" << a.stddev << " seed=" << a.seed; break;
    case OpKind::kSlice:
    case OpKind::kPad: out << " begin=" << Shape(a.begin) << " shape=" << a.shape; break;
    case OpKind::kConcat:
    case OpKind::kGather:
    case OpKind::kSoftmax:
    case OpKind::kLogSoftmax: out << " axis=" << a.axis; break;
    case OpKind::kScatterAdd: out << " axis=" << a.axis << " shape=" << a.shape; break;
    case OpKind::kOneHot: out << " depth=" << a.depth; break;
    case OpKind::kConv2d:
    case OpKind::kConv2dGradInput:
    case OpKind::kConv2dGradWeight:
    case OpKind::kMaxPool2d:
    case OpKind::kMaxPool2dGrad:
    case OpKind::kAvgPool2d:
    case OpKind::kAvgPool2dGrad: out << window_text(node.kind, a); break;
    case OpKind::kBatchNorm:
    case OpKind::kBatchNormSums:
    case OpKind::kBatchNormGradInput: out << " eps=" << a.scalar; break;
    case OpKind::kBatchNormStats:
    // Ops that read no attributes.
    case OpKind::kAdd:
    case OpKind::kSub:
    case OpKind::kMul:
    case OpKind::kDiv:
    case OpKind::kPow:
    case OpKind::kMaximum:
    case OpKind::kMinimum:
    case OpKind::kEqual:
    case OpKind::kNotEqual:
    case OpKind::kLess:
    case OpKind::kLessEqual:
    case OpKind::kGreater:
    case OpKind::kGreaterEqual:
    case OpKind::kWhere:
    case OpKind::kNeg:
    case OpKind::kExp:
    case OpKind::kLog:
    case OpKind::kSqrt:
    case OpKind::kTanh:
    case OpKind::kSigmoid:
    case OpKind::kRelu:
    case OpKind::kAbs:
    case OpKind::kSquare:
    case OpKind::kSign:
    case OpKind::kStopGradient:
    case OpKind::kSparseSoftmaxCrossEntropy:
    case OpKind::kLstmSequence:
    case OpKind::kLstmSequenceGrad: break;
    case OpKind::kCount:
      GRAFT_INTERNAL_ASSERT(false, "an op node of kind kCount (not an op)");
  }
  return out.str();
}

std::string value_label(const Graph& g, int id) {
  const Value& v = g.values[id];
  switch (v.source) {
    case ValueSource::kArgument: return "arg " + std::to_string(v.index);
    case ValueSource::kExternal: return g.external_names[v.index];
    case ValueSource::kConstant: return "constant";
    case ValueSource::kNode: return std::string(op_name(g.nodes[v.index].kind));
  }
  GRAFT_INTERNAL_ASSERT(false, "value ", id, " has source ", static_cast<int>(v.source), ", not a ValueSource");
  return "";
}

}  // namespace

std::string Graph::to_text() const {
  std::ostringstream out;
  out << "graph '" << name << "': " << arguments.size() << " arguments, " << externals.size() << " externals, "
      << op_count() << " ops, " << (nodes.size() - op_count()) << " assigns and host calls\n";
  for (size_t id = 0; id < values.size(); ++id) {
    const Value& v = values[id];
    if (v.source == ValueSource::kNode) continue;
    out << "  %" << id << " = " << value_label(*this, static_cast<int>(id)) << " : " << meta_text(v.meta) << "\n";
  }
  for (const Node& node : nodes) {
    out << "  ";
    if (node.host) {
      out << "host_call " << node.host_name << "\n";
      continue;
    }
    if (node.assign) {
      out << "assign " << external_names[values[node.inputs[0]].index] << " <- %" << node.inputs[1] << "\n";
      continue;
    }
    out << "%" << node.output << " = " << op_name(node.kind) << "(";
    for (size_t i = 0; i < node.inputs.size(); ++i) out << (i ? ", %" : "%") << node.inputs[i];
    out << ")" << attrs_text(node) << " : " << meta_text(values[node.output].meta) << "\n";
  }
  out << "  return";
  for (size_t i = 0; i < outputs.size(); ++i) out << (i ? ", %" : " %") << outputs[i];
  out << "\n";
  return out.str();
}

std::string Graph::to_dot() const {
  std::ostringstream out;
  out << "digraph \"" << name << "\" {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n";
  for (size_t id = 0; id < values.size(); ++id) {
    const Value& v = values[id];
    if (v.source == ValueSource::kNode) continue;
    const char* shape = v.source == ValueSource::kArgument ? "invhouse" : "box";
    out << "  v" << id << " [shape=" << shape << ", label=\"" << value_label(*this, static_cast<int>(id)) << "\\n"
        << meta_text(v.meta) << "\"];\n";
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    std::string target = node.output < 0 ? "a" + std::to_string(n) : "v" + std::to_string(node.output);
    if (node.host) {
      out << "  " << target << " [shape=component, label=\"host_call " << node.host_name << "\"];\n";
    } else if (node.assign) {
      out << "  " << target << " [shape=cds, style=filled, fillcolor=lightsalmon, label=\"assign "
          << external_names[values[node.inputs[0]].index] << "\"];\n";
    } else {
      out << "  " << target << " [shape=ellipse, label=\"" << op_name(node.kind) << "\\n"
          << meta_text(values[node.output].meta) << "\"];\n";
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.assign && i == 0) continue;
      out << "  v" << node.inputs[i] << " -> " << target << ";\n";
    }
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    out << "  out" << i << " [shape=house, label=\"output " << i << "\"];\n  v" << outputs[i] << " -> out" << i << ";\n";
  }
  out << "}\n";
  return out.str();
}

}  // namespace graft::trace
