#include "graft/version.h"

namespace graft {

const char* version() noexcept { return GRAFT_VERSION_STRING; }

}  // namespace graft
