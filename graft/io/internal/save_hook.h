// graft/io/internal/save_hook.h: a test-only seam in save_safetensors.
//
// The atomic-save test installs a hook that stops the writer in the middle of
// a large file, so the test can SIGKILL it there every time instead of racing
// it. Not for library users.
#pragma once

#include <cstdint>
#include <functional>

namespace graft::io::internal {

// Called after each chunk written to the temporary file, with the bytes written
// so far. Pass nullptr to remove. Not thread-safe against a running save.
void set_save_progress_hook(std::function<void(uint64_t bytes_written)> hook);

}  // namespace graft::io::internal
