#include "graft/base/error.h"

namespace graft {

Error::Error(const char* kind, std::string message)
    : kind_(kind), message_(std::move(message)) {
  text_ = std::string(kind_) + ": " + message_;
}

Error& Error::add_context(const std::string& context) {
  text_ += "\n  " + context;
  return *this;
}

}  // namespace graft
