// graft/vars/mode.h: switches a computation depends on besides its inputs and
// variables (a module's training mode), made visible to compiled functions.
//
//   auto flag = std::make_shared<vars::ModeFlag>(true);   // training
//   if (vars::read_mode(flag, "cnn/bn")) { ...batch statistics... }
//
// A graph captured by graft::function records every flag read while it was
// captured and the value it had; a later call replays that graph only while
// every such flag still holds the same value, and captures (then keeps) a
// second graph for the other value. So a model switched to evaluation mode
// never replays its training graph, and switching back replays the first
// graph without recapturing.
//
// Thread-safety: a flag is read and written from the thread that uses its
// module, as the module itself.
#pragma once

#include <memory>
#include <string>

namespace graft::vars {

struct ModeFlag {
  explicit ModeFlag(bool on) : value(on) {}
  bool value;
};

namespace internal {

// Sees every read_mode on this thread while registered (a capture keys its
// graph on the values).
class ModeObserver {
 public:
  virtual ~ModeObserver() = default;
  virtual void on_mode_read(const std::shared_ptr<const ModeFlag>& flag, const std::string& owner) = 0;
};
ModeObserver* set_mode_observer(ModeObserver* observer);
ModeObserver* mode_observer();

}  // namespace internal

// The flag's value, told to a running capture. `owner` names what the flag
// belongs to (a module path) for explain(); it is built only during capture.
template <typename Owner>
bool read_mode(const std::shared_ptr<ModeFlag>& flag, const Owner& owner) {
  if (internal::ModeObserver* observer = internal::mode_observer()) observer->on_mode_read(flag, owner());
  return flag->value;
}

}  // namespace graft::vars
