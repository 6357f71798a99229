// graft/vars/variable.h: a mutable, named tensor whose identity is its path.
//
//   VariableStore store("mlp");
//   Scope layer = store.root().child("layer_0");
//   Variable w = layer.variable("kernel", {784, 256}, init::glorot_uniform());
//   w.path();                   // "mlp/layer_0/kernel"
//   Tensor y = matmul(x, w);    // reads w (and, under a tape, watches it)
//   w.assign(w - 0.1 * grad);   // same shape and dtype, or ShapeError
//
// A Variable is a handle: copies refer to the same variable. Its dtype and
// shape are fixed at creation. Its id is stable for the life of the process
// and never reused, so optimizers and compiled functions can key state by it.
// Once retired (VariableStore::retire, or removing the layer that owns it)
// every read or write throws an error that says when, where and why.
//
// Unkeyed creation, the tf.Variable of docs/seed-examples.md:
//   Variable w(random_normal({10, 10}), "weights");
//   Variable s(zeros({}), "scale", VariableOptions().trainable(false));
// registers under the current scope (see VariableScope) with a unique name
// (weights, weights_1, ...). Such a variable lives while a handle does; a
// site that keeps making new ones while dropping the old is reported by the
// creation audit (graft/vars/store.h).
//
// Thread safety: reading and assigning one variable from several threads at
// once is a data race, as for tensors; everything else is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <string_view>

#include "graft/tensor/tensor.h"

namespace graft {

class VariableStore;
namespace vars::internal {
struct VariableImpl;
}

// How a variable is made: scope.variable("step", {}, init::zeros(),
// VariableOptions().dtype(DType::kInt64).trainable(false)), or
// Variable(value, "w", VariableOptions().trainable(false)).
class VariableOptions {
 public:
  // The variable's dtype. Unset: float32 for scope.variable(), the initial
  // value's dtype for Variable(value, ...); set there, the initial value is
  // converted to it (tf.Variable's dtype).
  VariableOptions& dtype(DType d) { dtype_ = d; return *this; }
  // Whether tapes watch the variable and trainable_variables() lists it.
  VariableOptions& trainable(bool on) { trainable_ = on; return *this; }

  // The values set above: dtype() is empty unless set; trainable() is true
  // unless set false.
  std::optional<DType> dtype() const { return dtype_; }
  bool trainable() const { return trainable_; }

 private:
  std::optional<DType> dtype_;
  bool trainable_ = true;
};

// A mutable, named tensor whose identity is its path (header comment); a
// handle: copies refer to the same variable.
class Variable {
 public:
  // A null handle; any call but defined() throws.
  Variable() = default;
  // Unkeyed creation under the current scope: see the header comment.
  explicit Variable(const Tensor& initial_value, std::string_view name = "Variable",
                    const VariableOptions& options = {},
                    std::source_location location = std::source_location::current());

  // Whether the handle refers to a variable.
  bool defined() const { return impl_ != nullptr; }
  // The process-wide identity (never reused) and the full path.
  uint64_t id() const;
  const std::string& path() const;
  // The last component of the path.
  std::string_view name() const;
  // The fixed shape and dtype.
  const Shape& shape() const;
  DType dtype() const;
  // Whether tapes watch it and trainable_variables() lists it; changing it
  // moves the store's epoch.
  bool trainable() const;
  void set_trainable(bool trainable);
  // Where the variable was created.
  const std::source_location& created_at() const;
  // The store that owns it.
  VariableStore& store() const;

  // The current value. Reading a trainable variable under a GradientTape
  // watches it. The returned tensor is the variable's own buffer (the same
  // tensor id on every read), updated in place by assign(). Throws for a
  // retired variable.
  Tensor value() const;
  operator Tensor() const { return value(); }  // NOLINT: variables are used wherever tensors are
  // The variable's buffer without watching it on tapes or telling a capture
  // (for optimizers, checkpoints and graph capture itself).
  Tensor raw_value() const;

  // Writes a new value in place. Throws ShapeError / DTypeError naming the
  // path when the shape or dtype differs.
  void assign(const Tensor& value) const;
  void assign_add(const Tensor& delta) const;
  void assign_sub(const Tensor& delta) const;

  // Whether the variable was retired (header comment).
  bool is_retired() const;
  // "retired by Sequential::remove(1) at model.cc:88 (store epoch 7)", or "".
  std::string retirement() const;

  friend bool operator==(const Variable& a, const Variable& b) { return a.impl_ == b.impl_; }

 private:
  friend class VariableStore;
  friend class Scope;
  explicit Variable(std::shared_ptr<vars::internal::VariableImpl> impl) : impl_(std::move(impl)) {}
  vars::internal::VariableImpl& checked() const;

  std::shared_ptr<vars::internal::VariableImpl> impl_;
};

}  // namespace graft
