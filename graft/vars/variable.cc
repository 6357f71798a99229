#include "graft/vars/variable.h"

#include <atomic>
#include <utility>

#include "graft/autodiff/tape.h"
#include "graft/ops/ops.h"
#include "graft/vars/internal/variable_impl.h"

namespace graft {
namespace vars::internal {
namespace {
thread_local ReadObserver* t_read_observer = nullptr;
thread_local AssignHook* t_assign_hook = nullptr;
}  // namespace

void VariableImpl::touch_store() const {
  if (auto state = store_state.lock()) {
    std::lock_guard lock(state->mutex);
    ++state->epoch;
  }
}

AssignHook* set_assign_hook(AssignHook* hook) { return std::exchange(t_assign_hook, hook); }

VariableImpl::~VariableImpl() {
  if (keyed || !retirement.empty()) return;
  if (auto state = store_state.lock()) state->on_unkeyed_dropped(id, site_key);
}

ReadObserver* set_read_observer(ReadObserver* observer) { return std::exchange(t_read_observer, observer); }

}  // namespace vars::internal

using vars::internal::VariableImpl;

vars::internal::VariableImpl& Variable::checked() const {
  GRAFT_CHECK(impl_ != nullptr, "use of a null graft::Variable (default-constructed)\n"
              "  help: create it with scope.variable(name, shape, init) or Variable(value, name)");
  return *impl_;
}

uint64_t Variable::id() const { return checked().id; }
const std::string& Variable::path() const { return checked().path; }

std::string_view Variable::name() const {
  std::string_view p = checked().path;
  auto slash = p.find_last_of('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

const Shape& Variable::shape() const { return checked().value.shape(); }
DType Variable::dtype() const { return checked().value.dtype(); }
bool Variable::trainable() const { return checked().trainable; }
void Variable::set_trainable(bool trainable) {
  VariableImpl& impl = checked();
  if (impl.trainable == trainable) return;
  impl.trainable = trainable;
  // What a tape watches changed, so compiled functions must recapture.
  impl.touch_store();
}
const std::source_location& Variable::created_at() const { return checked().created_at; }

VariableStore& Variable::store() const {
  VariableImpl& impl = checked();
  GRAFT_CHECK(impl.store_state.lock() != nullptr, "variable '", impl.path, "' outlived its VariableStore");
  return *impl.store;
}

namespace {

void check_live(const VariableImpl& impl, std::string_view action) {
  GRAFT_CHECK(impl.retirement.empty(), "cannot ", action, " variable '", impl.path, "': it was ", impl.retirement,
              "\n  created at: ", base::internal::format_location(impl.created_at),
              "\n  help: a retired variable stays out of the model; use the live one at that path "
              "(scope.variable) or keep the layer");
}

}  // namespace

Tensor Variable::value() const {
  VariableImpl& impl = checked();
  check_live(impl, "read");
  if (impl.trainable) autodiff::internal::watch_on_active_tapes(impl.value);
  if (vars::internal::t_read_observer != nullptr) vars::internal::t_read_observer->on_read(*this);
  return impl.value;
}

Tensor Variable::raw_value() const {
  VariableImpl& impl = checked();
  check_live(impl, "read");
  return impl.value;
}

void Variable::assign(const Tensor& value) const {
  VariableImpl& impl = checked();
  check_live(impl, "assign to");
  GRAFT_CHECK_AS(ShapeError, value.shape() == impl.value.shape(), "cannot assign a value of shape ",
                 value.shape().to_string(), " to variable '", impl.path, "' of shape ",
                 impl.value.shape().to_string(),
                 "\n  help: a variable's shape is fixed at creation; create a new variable for a new shape");
  GRAFT_CHECK_AS(DTypeError, value.dtype() == impl.value.dtype(), "cannot assign a ", dtype_name(value.dtype()),
                 " value to variable '", impl.path, "' of dtype ", dtype_name(impl.value.dtype()),
                 "\n  help: cast() the value first");
  if (vars::internal::t_assign_hook != nullptr) {
    vars::internal::t_assign_hook->on_assign(*this, value);
    return;
  }
  impl.value.copy_from(value);
}

void Variable::assign_add(const Tensor& delta) const { assign(value() + delta); }
void Variable::assign_sub(const Tensor& delta) const { assign(value() - delta); }

bool Variable::is_retired() const { return !checked().retirement.empty(); }
std::string Variable::retirement() const { return checked().retirement; }

}  // namespace graft
