#include "graft/base/warning.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace graft {
namespace {

class Recorder : public WarningHandler {
 public:
  void on_warning(const Warning& w) override { seen.push_back(w.message); }
  std::vector<std::string> seen;
};

TEST(WarningTest, AnInstalledHandlerReceivesEveryWarningWithItsLocation) {
  struct Located : WarningHandler {
    void on_warning(const Warning& w) override { line = w.location.line(); }
    unsigned line = 0;
  } handler;
  ScopedWarningHandler use(&handler);
  const unsigned here = std::source_location::current().line() + 1;
  warn("a message");
  EXPECT_EQ(handler.line, here);
}

TEST(WarningTest, ScopedHandlersNestAndRestoreThePreviousOne) {
  Recorder outer;
  Recorder inner;
  WarningHandler* before = warning_handler();
  {
    ScopedWarningHandler use_outer(&outer);
    warn("one");
    {
      ScopedWarningHandler use_inner(&inner);
      warn("two");
    }
    warn("three");
  }
  EXPECT_EQ(warning_handler(), before);
  EXPECT_EQ(outer.seen, (std::vector<std::string>{"one", "three"}));
  EXPECT_EQ(inner.seen, (std::vector<std::string>{"two"}));
}

TEST(WarningTest, CapturedWarningsKeepsMessagesWhileAlive) {
  WarningHandler* before = warning_handler();
  {
    CapturedWarnings captured;
    warn("first");
    warn("second");
    EXPECT_EQ(captured.messages(), (std::vector<std::string>{"first", "second"}));
  }
  EXPECT_EQ(warning_handler(), before);
}

TEST(WarningTest, AHandlerMayTurnWarningsIntoErrors) {
  struct Throwing : WarningHandler {
    void on_warning(const Warning& w) override { throw std::runtime_error("as error: " + w.message); }
  } handler;
  ScopedWarningHandler use(&handler);
  EXPECT_THROW(warn("x"), std::runtime_error);
}

}  // namespace
}  // namespace graft
