#include "graft/io/internal/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace graft::io::internal {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "of an unknown type";
}

}  // namespace

RegularFile open_regular_file(const std::string& path) {
  RegularFile out;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    out.os_error = errno;
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out.kind = kind_of(st.st_mode);
    return out;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.os_error = errno;
    return out;
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (S_ISREG(st.st_mode)) out.os_error = errno;
    else out.kind = kind_of(st.st_mode);
    ::close(fd);
    return out;
  }
  // Regular files ignore O_NONBLOCK; clear it anyway so the descriptor is the
  // plain blocking one callers expect.
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  out.fd = fd;
  return out;
}

std::string not_regular_message(const RegularFile& file) {
  return "is " + file.kind +
         ", not a regular file\n  help: pass the path of a file; graft reads whole files and refuses pipes, "
         "devices and folders, which may never end or never answer";
}

}  // namespace graft::io::internal
