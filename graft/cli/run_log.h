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
#pragma once

#include <cstdint>
#include <fstream>
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
  // Creates `dir` (and parents). Throws IoError when it cannot, or when
  // metrics.jsonl cannot be written there.
  explicit RunLog(std::string dir, bool append = false);

  void step(const StepRecord& r);
  void epoch(const EpochRecord& r);
  void growth(const GrowthRecord& r);
  // Writes curves.svg from everything logged so far (atomically).
  void write_curves() const;

  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::ofstream metrics_;
  std::vector<StepRecord> steps_;
  std::vector<EpochRecord> epochs_;
  std::vector<GrowthRecord> growths_;
};

// JSON string literal with escapes.
std::string json_string(const std::string& text);

}  // namespace graft::cli
