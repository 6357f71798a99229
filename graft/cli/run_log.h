// graft/cli/run_log.h: what `graft train` writes into its run folder.
//
//   RunLog log("runs/exp1");             // creates the folder
//   log.step({.step = 100, .epoch = 1, .loss = 0.6, .accuracy = 0.8, .samples_per_second = 5e4});
//   log.growth(100, "widen hidden layer 0 to 256 units");
//   log.epoch({.epoch = 1, .step = 938, .loss = 0.5, .accuracy = 0.82, .test_accuracy = 0.84});
//   log.write_curves();                  // curves.svg
//
// metrics.jsonl has one JSON object per line, with "kind" "step", "epoch" or
// "growth". curves.svg plots training loss and accuracy over steps, test
// accuracy per epoch, and marks every growth event, so a person can look
// rather than read.
//
// A resumed run (RunLog(dir, resume_at_step)) keeps the records of its
// earlier part up to the checkpoint's step, drops later ones (they are
// trained again) and any incomplete or damaged line (a process killed
// mid-write), rewrites metrics.jsonl atomically with what it kept, and plots
// the whole run, growth markers included.
//
// Every write is checked: a record that cannot be written (a full disk, a
// file-size limit) throws IoError naming metrics.jsonl and the OS error, so
// the run stops instead of losing records silently.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace graft::cli {

struct StepRecord {
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;
  double accuracy = 0;
  double samples_per_second = 0;
  double learning_rate = 0;
};

struct EpochRecord {
  int64_t epoch = 0;
  int64_t step = 0;
  double loss = 0;
  double accuracy = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  double seconds = 0;
  int64_t parameters = 0;
};

struct GrowthRecord {
  int64_t step = 0;
  std::string description;
  int64_t parameters_before = 0;
  int64_t parameters_after = 0;
  std::vector<std::string> created;
  std::vector<std::string> retired;
};

class RunLog {
 public:
  // Creates `dir` (and parents) and starts an empty metrics.jsonl, or, with
  // `resume_at_step`, continues the one there as the file comment says.
  // Throws IoError when the folder or metrics.jsonl cannot be written.
  explicit RunLog(std::string dir, std::optional<int64_t> resume_at_step = std::nullopt);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  void step(const StepRecord& r);
  void epoch(const EpochRecord& r);
  void growth(const GrowthRecord& r);
  // Writes curves.svg from everything logged so far (atomically).
  void write_curves() const;

  const std::string& dir() const { return dir_; }
  // Records kept from the earlier part of a resumed run (0 for a fresh one)
  // and lines dropped (after the checkpoint, incomplete or damaged).
  int64_t kept_records() const { return kept_; }
  int64_t dropped_lines() const { return dropped_; }

 private:
  void write_line(const std::string& line);
  void keep_until(int64_t step);

  std::string dir_;
  std::string path_;
  std::FILE* metrics_ = nullptr;
  int64_t kept_ = 0;
  int64_t dropped_ = 0;
  std::vector<StepRecord> steps_;
  std::vector<EpochRecord> epochs_;
  std::vector<GrowthRecord> growths_;
};

// JSON string literal with escapes.
std::string json_string(const std::string& text);

}  // namespace graft::cli
