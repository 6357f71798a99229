// graft/trace/internal/capture.h: records one run of a function into a Graph.
// Not a public header; graft::function (function.h) drives it.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "graft/ops/dispatch.h"
#include "graft/trace/graph.h"
#include "graft/vars/mode.h"
#include "graft/vars/store.h"

namespace graft::trace::internal {

struct CapturePolicy {
  std::string function_name;
  bool strict = false;  // TensorFlow's rule: creation only on the first capture
  bool first = true;    // this is the function's first capture
  int call = 1;         // the call number that triggered it
  int capture = 1;      // the capture number
};

// While alive, ops on this thread are recorded instead of run, variable reads,
// creations and assigns are seen, and tapes alive outside are hidden. Not
// reentrant on a thread: one capture at a time.
class Capture : private ops::internal::OpInterceptor,
                private vars::internal::ReadObserver,
                private vars::internal::CreateObserver,
                private vars::internal::AssignHook,
                private vars::internal::ModeObserver {
 public:
  Capture(const std::vector<Tensor>& args, CapturePolicy policy);
  ~Capture() override;
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Symbolic stand-ins for the arguments, to call the function with.
  const std::vector<Tensor>& symbolic_args() const { return symbolic_args_; }
  // Ends the capture with the function's results.
  Graph finish(const std::vector<Tensor>& outputs);

  struct VariableRead {
    Variable variable;
    bool trainable;
  };
  // A mode flag the capture read (graft/vars/mode.h) and the value it had.
  struct ModeRead {
    std::weak_ptr<const vars::ModeFlag> flag;
    bool value;
    std::string owner;
  };
  const std::vector<StoreWatch>& stores() const { return stores_; }
  const std::vector<ModeRead>& modes() const { return modes_; }
  const std::vector<std::string>& created() const { return created_; }
  const std::vector<VariableRead>& reads() const { return reads_; }

 private:
  Tensor intercept(const OpDef& def, std::span<const Tensor> inputs, const OpAttrs& attrs,
                   const TensorMeta& meta) override;
  void record_host_call(std::string name, std::function<void()> fn) override;
  void on_read(const Variable& v) override;
  void on_create(const Variable& v, bool keyed, std::string_view requested_name,
                 const std::source_location& location) override;
  void on_assign(const Variable& v, const Tensor& value) override;
  void on_mode_read(const std::shared_ptr<const vars::ModeFlag>& flag, const std::string& owner) override;

  // The value id of `t`, adding it as an external when first seen.
  int value_of(const Tensor& t);
  void note_store(const Variable& v);
  void restore();

  CapturePolicy policy_;
  Graph graph_;
  std::vector<Tensor> symbolic_args_;
  std::unordered_map<uint64_t, int> ids_;            // tensor id -> value id
  std::unordered_map<uint64_t, std::string> names_;  // tensor id -> variable path
  std::vector<StoreWatch> stores_;
  std::vector<std::string> created_;
  std::vector<VariableRead> reads_;
  std::vector<ModeRead> modes_;
  std::unordered_map<uint64_t, bool> read_ids_;  // variable id -> seen

  ops::internal::OpInterceptor* saved_interceptor_;
  vars::internal::ReadObserver* saved_read_;
  vars::internal::CreateObserver* saved_create_;
  vars::internal::AssignHook* saved_assign_;
  vars::internal::ModeObserver* saved_mode_;
  std::vector<ops::internal::OpObserver*> saved_observers_;
  bool restored_ = false;
};

}  // namespace graft::trace::internal
