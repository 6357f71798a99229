// bench/rss_fmnist.h: the rss_fmnist workload, peak memory and start-up time
// of a Fashion-MNIST training job (load the training and test sets, batches
// of 128, a 784-256-256-10 relu MLP trained by Adam), each side in a process
// of its own so neither's memory counts for the other:
//   graft:    bin/graft_rss_fmnist (links graft alone): images kept as uint8,
//             converted per batch, a compiled step
//   LibTorch: graft_torch_compare --rss-child: images as float32 tensors (as
//             torch::data::datasets::MNIST holds them), an eager step
// Peak RSS is the child's own high-water mark (VmHWM in /proc/self/status,
// printed by the child as it ends: wait4's ru_maxrss would count the parent's
// pages too, which the kernel carries into a forked child and across its exec);
// time to first step runs from just before
// the parent starts the child to the end of the child's first step, so it
// includes loading the program and its libraries.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace graft::bench {

inline int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What a child prints once its first step is done: "first_step_ms=<ms>".
inline void report_first_step(int64_t start_ns) {
  std::printf("first_step_ms=%.3f\n", static_cast<double>(monotonic_ns() - start_ns) / 1e6);
  std::fflush(stdout);
}

// What a child prints as it ends: "peak_rss_kb=<KiB>", its VmHWM.
inline void report_peak_rss() {
  long kb = -1;
  if (std::FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
    }
    std::fclose(f);
  }
  std::printf("peak_rss_kb=%ld\n", kb);
  std::fflush(stdout);
}

struct ChildRun {
  double peak_mb = 0;
  double first_step_ms = 0;
  bool ok = false;
};

// Runs `argv` (argv[0] a path) with the start time appended, reads its
// first_step_ms= line and takes its peak RSS.
inline ChildRun run_child(std::vector<std::string> argv) {
  ChildRun out;
  int fds[2];
  if (pipe(fds) != 0) return out;
  const int64_t start = monotonic_ns();
  argv.push_back(std::to_string(start));
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  std::string text;
  char buf[256];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return out;
  const size_t at = text.find("first_step_ms="), peak = text.find("peak_rss_kb=");
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && at != std::string::npos && peak != std::string::npos;
  if (out.ok) {
    out.first_step_ms = std::atof(text.c_str() + at + 14);
    out.peak_mb = std::atof(text.c_str() + peak + 12) / 1024.0;
    out.ok = out.peak_mb > 0;
  }
  return out;
}

// The folder of the running program (its siblings are the child programs).
inline std::string program_dir() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<size_t>(n));
  return p.substr(0, p.find_last_of('/'));
}

}  // namespace graft::bench
