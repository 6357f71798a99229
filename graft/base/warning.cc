#include "graft/base/warning.h"

#include <atomic>
#include <cstdio>

namespace graft {
namespace {

std::atomic<WarningHandler*> g_handler{nullptr};

// The one place the library writes to stderr, and only while no handler is
// installed: a warning nobody asked to route must still be seen.
void default_handler(const Warning& warning) {
  std::fprintf(stderr, "graft: warning: %s\n", warning.message.c_str());
}

}  // namespace

void warn(std::string message, std::source_location location) {
  Warning warning{std::move(message), location};
  if (WarningHandler* handler = g_handler.load(std::memory_order_acquire)) {
    handler->on_warning(warning);
  } else {
    default_handler(warning);
  }
}

WarningHandler* set_warning_handler(WarningHandler* handler) {
  return g_handler.exchange(handler, std::memory_order_acq_rel);
}

WarningHandler* warning_handler() { return g_handler.load(std::memory_order_acquire); }

void CapturedWarnings::on_warning(const Warning& warning) {
  std::lock_guard lock(mutex_);
  messages_.push_back(warning.message);
}

std::vector<std::string> CapturedWarnings::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

}  // namespace graft
