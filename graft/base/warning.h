// graft/base/warning.h: where the library's warnings go (c10's WarningHandler).
//
// Library code never prints: a condition worth a warning (a creation site
// that keeps re-creating variables, a deferred restore that did not fit, a
// function that keeps recapturing) calls graft::warn(message), which hands it
// to the current handler. The default handler writes "graft: warning: ..." to
// stderr; a program (the `graft` command) or a test replaces it:
//
//   class Collect : public graft::WarningHandler {
//    public:
//     void on_warning(const graft::Warning& w) override { log.push_back(w.message); }
//     std::vector<std::string> log;
//   };
//   Collect mine;
//   graft::ScopedWarningHandler use(&mine);   // restores the previous one when it dies
//
//   graft::CapturedWarnings captured;        // for tests: collects every warning while alive
//   ...
//   EXPECT_EQ(captured.messages().size(), 1u);
//
// Thread-safety: warn() may be called from any thread; a handler must accept
// concurrent calls (CapturedWarnings does). Setting the handler is atomic;
// the caller keeps the handler alive while it is installed.
#pragma once

#include <mutex>
#include <source_location>
#include <string>
#include <vector>

namespace graft {

// One warning, as a handler receives it.
struct Warning {
  std::string message;            // without the "graft: warning: " prefix
  std::source_location location;  // the library code that warned
};

// Receives the warnings graft gives (replace the default, which prints to
// stderr, with set_warning_handler or ScopedWarningHandler).
class WarningHandler {
 public:
  virtual ~WarningHandler() = default;
  // Called once per warning, possibly from several threads at once.
  virtual void on_warning(const Warning& warning) = 0;
};

// Sends `message` to the current handler. An exception from the handler
// propagates to the caller of warn().
void warn(std::string message, std::source_location location = std::source_location::current());

// Installs `handler` (nullptr: the default stderr handler) and returns the
// previous one (nullptr when it was the default).
WarningHandler* set_warning_handler(WarningHandler* handler);
WarningHandler* warning_handler();  // the installed one, nullptr for the default

// RAII: installs a handler while alive and puts the previous one back.
class ScopedWarningHandler {
 public:
  // Installs `handler` until this object is destroyed.
  explicit ScopedWarningHandler(WarningHandler* handler) : previous_(set_warning_handler(handler)) {}
  ~ScopedWarningHandler() { set_warning_handler(previous_); }
  ScopedWarningHandler(const ScopedWarningHandler&) = delete;
  ScopedWarningHandler& operator=(const ScopedWarningHandler&) = delete;

 private:
  WarningHandler* previous_;
};

// A handler that keeps every warning, installed while alive (for tests and
// for programs that show warnings their own way).
class CapturedWarnings : public WarningHandler {
 public:
  CapturedWarnings() : previous_(set_warning_handler(this)) {}
  ~CapturedWarnings() override { set_warning_handler(previous_); }
  CapturedWarnings(const CapturedWarnings&) = delete;
  CapturedWarnings& operator=(const CapturedWarnings&) = delete;

  // Keeps the message (thread-safe).
  void on_warning(const Warning& warning) override;
  // The messages so far, in order.
  std::vector<std::string> messages() const;

 private:
  WarningHandler* previous_;
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace graft
