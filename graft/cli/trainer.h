// graft/cli/trainer.h: the `graft train` job, one method per phase.
//
//   Trainer trainer(config, std::cout);
//   TrainResult result = trainer.run();   // every phase below, in order
//
// The phases, as run() calls them:
//   resume()       reads the checkpoint named by config.resume (if any) and
//                  takes the settings the user did not give from it
//   validate()     range-checks every setting and parses the growth plan
//   load_data()    loads the data set; its feature and class counts size the
//                  model (nothing assumes 784 inputs or 10 classes)
//   build_model()  builds the model and optimizer, then restores them from
//                  the checkpoint when resuming
//   open_run_folder()  only now touches the run folder: starts (or, resuming,
//                  trims) metrics.jsonl, removes stale temporary files
//   loop()         steps until the run ends, stops or is interrupted,
//                  calling step(), evaluate(), grow() and save() as the
//                  schedule says
//   finish()       the last checkpoint, warnings and the summary
// Everything that can fail on bad input fails before the first step, with a
// graft::Error (ValueError for settings, IoError for files). A Trainer runs
// once; it is neither copyable nor movable (its compiled step refers to it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "graft/cli/distribution.h"
#include "graft/cli/growth_plan.h"
#include "graft/cli/run_log.h"
#include "graft/cli/train.h"
#include "graft/cli/train_state.h"
#include "graft/io/batches.h"
#include "graft/io/fashion_mnist.h"
#include "graft/io/safetensors.h"
#include "graft/nn/sequential.h"
#include "graft/optim/optimizer.h"
#include "graft/trace/function.h"

namespace graft::cli {

class Trainer {
 public:
  Trainer(TrainConfig config, std::ostream& out);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Runs every phase; the result of the whole run.
  TrainResult run();

  struct Evaluation {
    double loss = 0;      // mean cross-entropy
    double accuracy = 0;  // fraction of rows whose largest logit is the label
  };

  void resume();
  void validate();
  void check_settings_agree();
  void load_data();
  void build_model();
  void open_run_folder();
  // One training step on `batch`: {mean loss, logits}.
  std::vector<Tensor> step(const io::Batch& batch);
  Evaluation evaluate(const io::Dataset& data);
  void grow(const GrowthEvent& event);
  void save();
  void loop();
  void finish();

  const TrainConfig& config() const { return config_; }

 private:
  using StepFunction = std::function<std::vector<Tensor>(const Tensor&, const Tensor&)>;
  using Clock = std::chrono::steady_clock;

  // Loss, hits and examples summed over a stretch of steps.
  struct Sums {
    double loss = 0, hits = 0, seen = 0;
  };

  void check_run_folder();
  void check_model_size(const std::vector<int64_t>& hidden, const std::string& where);
  void check_progress();
  void check_optimizer_tensors();
  void restore();
  void build_cnn();
  Tensor model_input(const Tensor& rows) const;
  void announce();
  void account(const io::Batch& batch, const std::vector<Tensor>& outs);
  void end_epoch(int64_t epoch);
  void check_pending_restores();
  void end_progress_line();

  TrainConfig config_;
  // Under mpirun: this rank's place in the job (graft/cli/distribution.h).
  // Ranks other than 0 print nothing and log to run_dir/rank_<r>.
  Distribution dist_;
  std::ostream silent_{nullptr};
  std::ostream& out_;
  Clock::time_point start_;

  std::optional<io::SafetensorsFile> resume_file_;
  std::vector<std::string> notes_;
  std::string resumed_line_;
  TrainProgress saved_;
  GrowthPlan plan_;

  io::Dataset train_, test_;
  int64_t features_ = 0;  // columns of the data set's inputs
  int64_t classes_ = 0;   // 1 + the largest label
  int64_t image_side_ = 0;  // sqrt(features_): the CNN's images are side x side
  // The normalised value of a black pixel, for pixels shifted in by augmentation.
  float background_ = -io::kFashionMnistMean / io::kFashionMnistStd;
  std::unique_ptr<io::BatchIterator> batches_;
  int64_t steps_per_epoch_ = 0;
  int64_t total_steps_ = 0;

  std::unique_ptr<RunLog> log_;
  std::string checkpoint_path_;
  std::unique_ptr<nn::Sequential> model_;  // named after config.model ("mlp", "cnn")
  std::unique_ptr<optim::Optimizer> optimizer_;
  StepFunction step_body_;
  std::optional<Function<StepFunction>> train_step_;
  std::optional<Function<std::function<Tensor(const Tensor&)>>> forward_;
  Tensor probe_;

  TrainResult result_;
  size_t next_event_ = 0;
  int64_t step_ = 0;
  int64_t saved_at_ = -1;
  Sums window_, epoch_;
  Clock::time_point window_start_, epoch_start_;
  bool bar_ = false;
  bool resuming_here_ = false;  // resuming into the checkpoint's own run folder
  bool interrupted_ = false;    // a signal, here or on another rank, stopped the loop
};

}  // namespace graft::cli
