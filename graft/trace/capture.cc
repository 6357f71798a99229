#include "graft/trace/internal/capture.h"

#include <algorithm>

namespace graft::trace::internal {
void Capture::record_host_call(std::string name, std::function<void()> fn) {
  Node node;
  node.host = std::move(fn);
  node.host_name = std::move(name);
  graph_.nodes.push_back(std::move(node));
}

Capture::Capture(const std::vector<Tensor>& args, CapturePolicy policy) : policy_(std::move(policy)) {
  GRAFT_CHECK(ops::internal::interceptor() == nullptr, "graft::function '", policy_.function_name,
              "': a capture is already running on this thread");
  graph_.name = policy_.function_name;
  for (size_t i = 0; i < args.size(); ++i) {
    GRAFT_CHECK(args[i].defined(), "graft::function '", policy_.function_name, "': argument ", i,
                " is an undefined tensor");
    Tensor sym = Tensor::symbolic(args[i].shape(), args[i].dtype());
    int id = graph_.add_value({args[i].shape(), args[i].dtype()}, ValueSource::kArgument, static_cast<int>(i));
    graph_.arguments.push_back(id);
    ids_[sym.id()] = id;
    symbolic_args_.push_back(std::move(sym));
  }
  saved_interceptor_ = ops::internal::set_interceptor(this);
  saved_read_ = vars::internal::set_read_observer(this);
  saved_create_ = vars::internal::set_create_observer(this);
  saved_assign_ = vars::internal::set_assign_hook(this);
  saved_mode_ = vars::internal::set_mode_observer(this);
  // Tapes alive outside the function do not see inside it.
  saved_observers_ = ops::internal::exchange_observers({});
}

Capture::~Capture() { restore(); }

void Capture::restore() {
  if (restored_) return;
  restored_ = true;
  ops::internal::set_interceptor(saved_interceptor_);
  vars::internal::set_read_observer(saved_read_);
  vars::internal::set_create_observer(saved_create_);
  vars::internal::set_assign_hook(saved_assign_);
  vars::internal::set_mode_observer(saved_mode_);
  ops::internal::exchange_observers(std::move(saved_observers_));
}

int Capture::value_of(const Tensor& t) {
  auto it = ids_.find(t.id());
  if (it != ids_.end()) return it->second;
  GRAFT_CHECK(!t.is_symbolic(), "graft::function '", policy_.function_name, "': a symbolic tensor ",
              t.shape().to_string(), " from another capture was used here\n"
              "  help: do not keep tensors made inside a captured function across calls; return them instead");
  int index = static_cast<int>(graph_.externals.size());
  graph_.externals.push_back(t);
  auto name = names_.find(t.id());
  graph_.external_names.push_back(name != names_.end() ? name->second : "constant");
  int id = graph_.add_value({t.shape(), t.dtype()}, ValueSource::kExternal, index);
  ids_[t.id()] = id;
  return id;
}

Tensor Capture::intercept(const OpDef& def, std::span<const Tensor> inputs, const OpAttrs& attrs,
                          const TensorMeta& meta) {
  Node node;
  node.kind = def.kind;
  node.attrs = attrs;
  for (const Tensor& in : inputs) node.inputs.push_back(value_of(in));
  Tensor out = Tensor::symbolic(meta.shape, meta.dtype);
  node.output = graph_.add_value(meta, ValueSource::kNode, static_cast<int>(graph_.nodes.size()));
  ids_[out.id()] = node.output;
  graph_.nodes.push_back(std::move(node));
  return out;
}

void Capture::note_store(const Variable& v) {
  StoreWatch watch = v.store().watch();
  if (std::find(stores_.begin(), stores_.end(), watch) == stores_.end()) stores_.push_back(watch);
}

void Capture::on_read(const Variable& v) {
  note_store(v);
  Tensor value = v.raw_value();
  names_[value.id()] = v.path();
  if (!read_ids_[v.id()]) {
    read_ids_[v.id()] = true;
    reads_.push_back({v, v.trainable()});
  }
}

void Capture::on_create(const Variable& v, bool keyed, std::string_view requested_name,
                        const std::source_location& location) {
  note_store(v);
  const std::string site = graft::base::internal::format_location(location);
  GRAFT_CHECK(keyed || policy_.first, "graft::function '", policy_.function_name, "': unkeyed Variable '", v.path(),
              "' created at ", site, " during capture ", policy_.capture, " (call ", policy_.call,
              ") would make a new variable on every capture, and training would update copies that are thrown away",
              "\n  help: create it by path with scope.variable(\"", requested_name,
              "\", shape, init), which finds the existing variable on every capture");
  GRAFT_CHECK(!policy_.strict || policy_.first, "graft::function '", policy_.function_name,
              "' (strict mode) created variable '", v.path(), "' on call ", policy_.call, " (capture ",
              policy_.capture, "); strict mode follows TensorFlow's rule that variables are created only on the "
              "first call (\"tf.function only supports singleton tf.Variables created on the first call\")",
              "\n  created at: ", site,
              "\n  help: build the model (every layer) before the first call, or leave strict mode off so graft "
              "recaptures the grown model and reuses every existing variable");
  created_.push_back(v.path());
}

void Capture::on_assign(const Variable& v, const Tensor& value) {
  note_store(v);
  Tensor target = v.raw_value();
  names_[target.id()] = v.path();
  Node node;
  node.assign = true;
  node.inputs = {value_of(target), value_of(value)};
  graph_.nodes.push_back(std::move(node));
}

void Capture::on_mode_read(const std::shared_ptr<const vars::ModeFlag>& flag, const std::string& owner) {
  for (const ModeRead& m : modes_) {
    if (m.flag.lock() == flag) return;
  }
  modes_.push_back({flag, flag->value, owner});
}

Graph Capture::finish(const std::vector<Tensor>& outputs) {
  for (const Tensor& t : outputs) {
    GRAFT_CHECK(t.defined(), "graft::function '", policy_.function_name, "' returned an undefined tensor");
    graph_.outputs.push_back(value_of(t));
  }
  restore();
  return std::move(graph_);
}

}  // namespace graft::trace::internal
