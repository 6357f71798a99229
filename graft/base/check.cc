#include "graft/base/check.h"

#include <string_view>

namespace graft::base::internal {

std::string format_location(const std::source_location& loc) {
  std::string_view file = loc.file_name();
  if (auto slash = file.find_last_of('/'); slash != std::string_view::npos) {
    file.remove_prefix(slash + 1);
  }
  return str(file, ":", loc.line());
}

}  // namespace graft::base::internal
