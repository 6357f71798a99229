// tests/io/test_util.h: a scratch folder per test and paths into the source tree.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "graft/io/internal/save_hook.h"

namespace graft::io::testing {

// A fresh folder named after the running test, removed when the test ends.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("graft_io_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// How a save killed midway went.
struct KilledSave {
  pid_t child = -1;
  bool reached_middle = false;  // the child wrote `after_bytes` before it was killed
  int status = 0;               // from waitpid
};

// Forks a child that runs `save` and stops it (through the save progress
// hook) once `after_bytes` are written; then kills it with SIGKILL, so the
// save dies in the middle of writing, as in a crash.
inline KilledSave kill_save_midway(uint64_t after_bytes, const std::function<void()>& save) {
  KilledSave result;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return result;
  result.child = ::fork();
  if (result.child < 0) return result;
  if (result.child == 0) {
    ::close(pipe_fds[0]);
    bool signalled = false;
    internal::set_save_progress_hook([&](uint64_t written) {
      if (signalled || written < after_bytes) return;
      signalled = true;
      char c = 'x';
      if (::write(pipe_fds[1], &c, 1) != 1) ::_exit(3);
      for (;;) ::pause();  // mid-save until the parent's SIGKILL
    });
    try {
      save();
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(1);  // finished the save: the parent did not get to kill it
  }
  ::close(pipe_fds[1]);
  char c = 0;
  result.reached_middle = ::read(pipe_fds[0], &c, 1) == 1;
  ::close(pipe_fds[0]);
  ::kill(result.child, SIGKILL);
  ::waitpid(result.child, &result.status, 0);
  return result;
}

// The repository root (CTest sets GRAFT_SOURCE_DIR; a direct run from the
// root works too).
inline std::string source_dir() {
  const char* dir = std::getenv("GRAFT_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace graft::io::testing
