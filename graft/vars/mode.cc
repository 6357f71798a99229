#include "graft/vars/mode.h"

#include <utility>

namespace graft::vars::internal {
namespace {
thread_local ModeObserver* t_mode_observer = nullptr;
}  // namespace

ModeObserver* set_mode_observer(ModeObserver* observer) { return std::exchange(t_mode_observer, observer); }
ModeObserver* mode_observer() { return t_mode_observer; }

}  // namespace graft::vars::internal
