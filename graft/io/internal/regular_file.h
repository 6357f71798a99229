// graft/io/internal/regular_file.h: opening a file that must be a regular
// file, without ever blocking on a FIFO or a device.
//
//   RegularFile file = open_regular_file(path);
//   if (file.fd < 0) ... file.os_error or file.kind say why (the caller words it) ...
//
// A reader that open()s a path and checks its type afterwards blocks forever
// when the path is a FIFO with no writer (open waits for one), and reads
// without end from /dev/zero. The type is checked before opening, the open is
// non-blocking (a FIFO swapped in after the check cannot block it either), and
// the opened descriptor is checked again.
#pragma once

#include <string>

namespace graft::io::internal {

struct RegularFile {
  int fd = -1;       // read-only, blocking mode; the caller closes it
  int os_error = 0;  // errno when stat or open failed
  std::string kind;  // what the path is instead ("a FIFO (named pipe)", "a directory", ...)
};

// Opens `path` when it is a regular file; otherwise fd is -1 and os_error or
// kind is set. Never blocks, never throws.
RegularFile open_regular_file(const std::string& path);

// "is a FIFO (named pipe), not a regular file" plus a help line, for a
// message that starts with the path.
std::string not_regular_message(const RegularFile& file);

}  // namespace graft::io::internal
