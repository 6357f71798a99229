#include "graft/cli/trainer.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <set>
#include <span>
#include <filesystem>
#include <iostream>
#include <thread>

#include "graft/autodiff/tape.h"
#include "graft/edit/edit.h"
#include "graft/io/augment.h"
#include "graft/io/checkpoint.h"
#include "graft/nn/batch_norm.h"
#include "graft/nn/conv.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/optim/sgd.h"
#include "graft/tensor/parallel.h"
#include "graft/tensor/random.h"

namespace graft::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

optim::LearningRateSchedule make_schedule(const TrainConfig& c, int64_t total_steps) {
  optim::LearningRateSchedule s = c.schedule == "constant" ? optim::schedule::constant(c.learning_rate)
                           : c.schedule == "step"   ? optim::schedule::step_decay(c.learning_rate, std::max<int64_t>(1, total_steps / 3), 0.3)
                                                    : optim::schedule::cosine(c.learning_rate, total_steps, c.learning_rate * 0.01);
  return c.warmup_steps > 0 ? optim::schedule::warmup(c.warmup_steps, s) : s;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, optim::LearningRateSchedule s) {
  if (c.optimizer == "sgd") return std::make_unique<optim::SGD>(optim::SGDOptions(c.learning_rate).schedule(s).weight_decay(c.weight_decay));
  if (c.optimizer == "momentum") {
    return std::make_unique<optim::SGD>(optim::SGDOptions(c.learning_rate).schedule(s).momentum(0.9).nesterov(true).weight_decay(c.weight_decay));
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<optim::Adam>(optim::adamw_options(c.learning_rate, c.weight_decay > 0 ? c.weight_decay : 0.01).schedule(s));
  }
  return std::make_unique<optim::Adam>(optim::AdamOptions(c.learning_rate).schedule(s).weight_decay(c.weight_decay));
}

// Rows whose largest logit is at the label.
int64_t correct(const Tensor& logits, const Tensor& labels) {
  std::vector<float> l = logits.to_vector<float>();
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  const int64_t classes = logits.dim(1);
  int64_t hits = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const float* row = l.data() + i * classes;
    hits += std::max_element(row, row + classes) - row == y[i] ? 1 : 0;
  }
  return hits;
}

// Hidden layer L's position in the Sequential: the conv blocks when the
// model has any (the CNN's growth edits its convolutions), else the Linear
// layers but the output layer.
size_t hidden_position(nn::Sequential& model, int64_t layer) {
  std::vector<size_t> convs = edit::conv_positions(model);
  if (!convs.empty()) return convs.at(layer < 0 ? convs.size() - 1 : static_cast<size_t>(layer));
  std::vector<size_t> linears = edit::linear_positions(model);
  size_t hidden = linears.size() - 1;  // the last Linear is the output layer
  return linears.at(layer < 0 ? hidden - 1 : static_cast<size_t>(layer));
}

// "784 -> 128 relu -> 10": the widths of the Linear layers, after
// "conv 1 -> 16 -> 32, " for the Conv2d layers of a CNN.
std::string architecture(nn::Sequential& model) {
  std::string text;
  for (size_t i : edit::conv_positions(model)) {
    auto conv = std::dynamic_pointer_cast<nn::Conv2d>(model.at(i));
    text += (text.empty() ? "conv " + std::to_string(conv->in_channels()) : std::string()) + " -> " +
            std::to_string(conv->out_channels());
  }
  if (!text.empty()) text += ", ";
  const size_t convs = text.size();
  for (size_t i : edit::linear_positions(model)) {
    auto layer = std::dynamic_pointer_cast<nn::Linear>(model.at(i));
    if (text.size() == convs) text += std::to_string(layer->in_features());
    text += " -> " + std::to_string(layer->options().out_features());
    if (layer->options().activation() != nn::Activation::kNone) {
      text += std::string(" ") + nn::activation_name(layer->options().activation());
    }
  }
  return text;
}

// Cross-entropy of integer labels against smoothed targets,
// (1 - e) * CE + e * mean over classes of -log_softmax, averaged over rows.
Tensor classification_loss(const Tensor& logits, const Tensor& labels, double smoothing) {
  Tensor ce = mean(sparse_softmax_cross_entropy(logits, labels));
  if (smoothing == 0) return ce;
  Tensor uniform = mean(neg(mean(log_softmax(logits, 1), {1})));
  return ce * (1.0 - smoothing) + uniform * smoothing;
}

// Runs one growth event's edit on `model`.
edit::EditReport run_edit(nn::Sequential& model, const GrowthEvent& e, const edit::EditOptions& options) {
  size_t position = hidden_position(model, e.layer);
  return e.action == GrowthEvent::Action::kDeepen ? edit::deepen(model, position, options)
         : e.action == GrowthEvent::Action::kWiden ? edit::widen(model, position, e.units, options)
                                                    : edit::prune(model, position, e.units, options);
}

// The progress bar (only on a terminal): one line, rewritten in place.
void show_progress(std::ostream& out, int64_t epoch, int64_t epochs, int64_t batch, int64_t batches, double loss,
                   double acc, double rate) {
  const int width = 30;
  int filled = static_cast<int>(width * (batch + 1) / std::max<int64_t>(batches, 1));
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  char line[200];
  std::snprintf(line, sizeof(line), "\repoch %lld/%lld [%s] loss %.4f acc %.4f %.0f samples/s ",
                static_cast<long long>(epoch), static_cast<long long>(epochs), bar.c_str(), loss, acc, rate);
  out << line << std::flush;
}

// SIGINT, SIGTERM and SIGHUP (a closed terminal) end a run after its current
// step, with a checkpoint; a second signal ends the process as usual.
volatile std::sig_atomic_t g_interrupted = 0;  // the signal's number, 0: none

void on_interrupt(int signal) {
  g_interrupted = signal;
  std::signal(signal, SIG_DFL);
}

class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    for (size_t i = 0; i < kSignals.size(); ++i) old_[i] = std::signal(kSignals[i], on_interrupt);
  }
  ~InterruptGuard() {
    for (size_t i = 0; i < kSignals.size(); ++i) std::signal(kSignals[i], old_[i]);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  int signal() const { return g_interrupted; }

 private:
  static constexpr std::array<int, 3> kSignals = {SIGINT, SIGTERM, SIGHUP};
  std::array<void (*)(int), 3> old_{};
};

const char* const kDamaged =
    "\n  help: the checkpoint is damaged or was edited; resume from another checkpoint or start a new run";

// The checkpoint layout this graft reads (graft/io/checkpoint.h).
void check_format_version(const io::SafetensorsFile& file) {
  auto it = file.metadata().find("graft.format_version");
  GRAFT_CHECK_AS(IoError, it != file.metadata().end(), file.name(),
                 ": not a graft train checkpoint (no metadata key graft.format_version)", kDamaged);
  GRAFT_CHECK_AS(IoError, it->second == std::to_string(io::kCheckpointFormatVersion), file.name(),
                 ": graft.format_version is '", it->second, "', this graft reads version ",
                 io::kCheckpointFormatVersion, "\n  help: resume with the graft that wrote the checkpoint");
}

// NaN or Inf in a checkpoint: a diverged run, or a damaged file. Resuming it
// would train on garbage, so it takes --allow-nonfinite.
void check_finite(const io::SafetensorsFile& file) {
  for (const io::TensorEntry& entry : file.entries()) {
    std::span<const char> bytes = file.raw(entry.key);
    int64_t bad = 0;
    auto count = [&]<typename T>(T) {
      for (size_t at = 0; at + sizeof(T) <= bytes.size(); at += sizeof(T)) {
        T v;
        std::memcpy(&v, bytes.data() + at, sizeof(T));  // unaligned, little-endian like the host
        bad += std::isfinite(v) ? 0 : 1;
      }
    };
    if (entry.dtype == io::FileDType::kF32) count(float{});
    if (entry.dtype == io::FileDType::kF64) count(double{});
    GRAFT_CHECK_AS(IoError, bad == 0, file.name(), ": tensor '", entry.key, "' holds ", bad, " NaN or Inf value",
                   bad == 1 ? "" : "s",
                   "\n  help: the run diverged or the file is damaged; resume from an earlier checkpoint, or pass "
                   "--allow-nonfinite to resume it anyway");
  }
}

// How a diverged run ends (Trainer::account and Trainer::save).
constexpr const char* kDiverged =
    ": training diverged, so it stops without saving over the last checkpoint"
    "\n  help: lower --lr, set --clip-norm or a --warmup, then resume from the last checkpoint or start again; "
    "--allow-nonfinite trains on regardless";

// The path of the first variable in `stores` holding NaN or Inf, or "": a
// step whose loss was still finite can leave the parameters it updated
// infinite, and such a state must not replace the last checkpoint.
std::string first_nonfinite(std::initializer_list<const VariableStore*> stores) {
  for (const VariableStore* store : stores) {
    for (const Variable& v : store->variables()) {
      const Tensor value = v.value();
      if (!is_floating(value.dtype())) continue;
      const bool finite = visit_dtype(value.dtype(), [&]<typename T>(T) {
        if constexpr (std::is_floating_point_v<T>) {
          const T* p = value.data<T>();
          for (int64_t i = 0, n = value.numel(); i < n; ++i) {
            if (!std::isfinite(p[i])) return false;
          }
        }
        return true;
      });
      if (!finite) return v.path();
    }
  }
  return "";
}

// Temporary files of checkpoint saves whose process is gone
// (checkpoint.safetensors.tmp.<pid>, graft/io/safetensors.h); a live
// process's file is left alone. Returns how many were removed.
int remove_stale_temporaries(const std::string& checkpoint) {
  namespace fs = std::filesystem;
  const std::string prefix = fs::path(checkpoint).filename().string() + ".tmp.";
  std::error_code ec;
  int removed = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(checkpoint).parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (fs::remove(entry.path(), ec)) ++removed;
  }
  return removed;
}

// 1 + the largest label: the number of classes the model must tell apart.
int64_t class_count(const io::Dataset& data) {
  std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
  int64_t largest = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end());
  return largest + 1;
}

}  // namespace

Trainer::Trainer(TrainConfig config, std::ostream& out)
    : config_(std::move(config)),
      dist_(Distribution::detect()),
      out_(dist_.is_root() ? out : silent_),
      start_(Clock::now()) {}

Trainer::~Trainer() = default;

TrainResult Trainer::run() {
  try {
    resume();
    validate();
    load_data();
    build_model();
    open_run_folder();
    try {
      loop();
    } catch (Error& e) {
      e.add_context("at step " + std::to_string(step_) + " of the run in " + log_->dir() +
                    (result_.checkpoint.empty() ? std::string()
                                                : "; its last checkpoint is " + result_.checkpoint + " (step " +
                                                      std::to_string(saved_at_) + ")"));
      throw;
    }
    finish();
  } catch (const std::exception& e) {
    dist_.fail(e);  // ends every rank unless every rank threw the same
    throw;
  }
  return result_;
}

void Trainer::resume() {
  if (config_.resume.empty()) return;
  const std::string path = checkpoint_file_of(config_.resume);
  try {
    resume_file_ = io::SafetensorsFile::read(path);
    check_format_version(*resume_file_);
    notes_ = adopt_checkpoint_config(config_, resume_file_->metadata(), path);
    saved_ = parse_train_progress(resume_file_->metadata(), path);
    GRAFT_CHECK_AS(IoError, saved_.optimizer_iterations == saved_.step, path,
                   ": train.optimizer_iterations is ", saved_.optimizer_iterations, " but train.step is ", saved_.step,
                   " (graft train updates the optimizer once a step)", kDamaged);
    if (!config_.allow_nonfinite) check_finite(*resume_file_);
  } catch (Error& e) {
    e.add_context("while resuming from " + path);
    throw;
  }
  // A --max-steps the earlier run reached is served: the run goes on.
  if (config_.max_steps > 0 && saved_.step >= config_.max_steps && !config_.given_flags.contains("--max-steps")) {
    notes_.push_back("the checkpoint's run stopped at its --max-steps " + std::to_string(config_.max_steps) +
                     "; this run goes on to the end (pass --max-steps to stop earlier)");
    config_.max_steps = 0;
  }
}

void Trainer::validate() {
  check_settings_agree();
  validate_config(config_);
  plan_ = parse_growth_plan(config_.grow);
  GRAFT_CHECK(config_.batch_size % dist_.size() == 0, "--batch-size ", config_.batch_size,
              " is the global batch and must split evenly over ", dist_.size(), " ranks\n  help: pass a multiple of ",
              dist_.size());
  check_run_folder();
  if (config_.threads > 0) {
    set_num_threads(config_.threads);
  } else if (dist_.distributed()) {
    // A rank bound to some cores (mpirun binds each rank to one by default)
    // owns them; unbound ranks on one machine share its cores.
    const int cores = available_cores();
    const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    set_num_threads(cores < machine ? cores : std::max(1, machine / dist_.local_size()));
  }
}

// Every rank parses its own flags (nothing is broadcast that would hide a
// difference), so ranks started with different settings would train apart
// (another --lr, --seed or --batch-size: silently) or stop and save at other
// steps (another --epochs or --max-steps: collectives that never match).
// They are compared before anything runs. Where a rank finds its data and
// how many threads it runs may differ; the model's shape and growth
// (--model, --channels, --hidden, --grow) are left to the structure check,
// which names the first variable that differs.
void Trainer::check_settings_agree() {
  if (!dist_.distributed()) return;
  static const std::set<std::string> unchecked = {"--threads", "--data-dir", "--model", "--channels", "--hidden",
                                                   "--grow"};
  const std::string prefix = "train.config.";
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [key, value] : train_metadata(config_, TrainProgress{})) {
    if (!key.starts_with(prefix)) continue;
    std::string flag = "--" + key.substr(prefix.size());
    if (!unchecked.contains(flag)) settings.emplace_back(std::move(flag), value);
  }
  dist_.check_settings(settings, resume_file_ ? "on resume" : "at start");
}

// A fresh run never silently replaces another run's files.
void Trainer::check_run_folder() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (resume_file_) {
    const fs::path folder = fs::path(resume_file_->name()).parent_path();
    resuming_here_ = fs::equivalent(config_.run_dir, folder.empty() ? fs::path(".") : folder, ec);
  }
  if (fs::exists(config_.run_dir, ec)) {
    GRAFT_CHECK_AS(IoError, fs::is_directory(config_.run_dir, ec), "--run-dir '", config_.run_dir,
                   "' exists and is not a folder\n  help: pass a folder with --run-dir");
  }
  if (resuming_here_ || config_.overwrite) return;
  std::string found;
  for (const char* name : {"metrics.jsonl", "curves.svg", kCheckpointName}) {
    if (fs::exists(fs::path(config_.run_dir) / name, ec)) found += (found.empty() ? "" : ", ") + std::string(name);
  }
  GRAFT_CHECK_AS(IoError, found.empty(), "the run folder '", config_.run_dir, "' already holds a run (", found,
                 ")\n  help: pass --resume ", config_.run_dir, " to continue it, --overwrite to replace it, or "
                 "another --run-dir");
}

// The model's input: images [N, 1, side, side] for the CNN, rows otherwise.
Tensor Trainer::model_input(const Tensor& rows) const {
  return config_.model == "cnn" ? reshape(rows, {rows.dim(0), 1, image_side_, image_side_}) : rows;
}

void Trainer::build_cnn() {
  for (int64_t c : config_.channels) {
    model_->add(nn::Conv2d(nn::Conv2dOptions(c, 3).padding(1).bias(false)));
    model_->add(nn::BatchNorm());
    model_->add(nn::ReLU());
    model_->add(nn::MaxPool2d(Pool2dOptions(2)));
  }
  model_->add(nn::Flatten());
}

void Trainer::load_data() {
  io::FashionMnistOptions options = io::FashionMnistOptions().data_dir(config_.data_dir).normalize(true);
  train_ = io::load_fashion_mnist(io::Split::kTrain, options);
  test_ = io::load_fashion_mnist(io::Split::kTest, options);
  features_ = train_.images.row_size();
  classes_ = class_count(train_);
  image_side_ = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(features_))));
  if (config_.model == "cnn") {
    GRAFT_CHECK(image_side_ * image_side_ == features_, "--model cnn needs square images; the data set's rows hold ",
                features_, " values\n  help: use --model mlp");
    int64_t side = image_side_;
    for (size_t i = 0; i < config_.channels.size(); ++i) side /= 2;
    GRAFT_CHECK(side >= 1, "--channels ", config_.channels.size(), " conv blocks halve ", image_side_, "x", image_side_,
                " images below one pixel\n  help: use fewer conv blocks");
  }
  if (config_.limit > 0 && config_.limit < train_.size()) {
    train_.images = train_.images.head(config_.limit);
    train_.labels = slice(train_.labels, {0}, {config_.limit}).clone();
  }
  GRAFT_CHECK(train_.size() >= config_.batch_size, "--batch-size ", config_.batch_size, " is larger than the ",
              train_.size(), " training examples");
  batches_ = std::make_unique<io::BatchIterator>(
      train_.images, train_.labels,
      io::BatchOptions(config_.batch_size).seed(config_.seed).drop_last(true).shard(dist_.rank(), dist_.size()));
  steps_per_epoch_ = batches_->batches_per_epoch();
  GRAFT_CHECK(config_.epochs <= kMaxSteps / steps_per_epoch_, "--epochs ", config_.epochs, " at ", steps_per_epoch_,
              " steps per epoch is more than ", kMaxSteps, " steps, graft train's limit");
  total_steps_ = steps_per_epoch_ * config_.epochs;
  sort_growth_plan(plan_, steps_per_epoch_);
  // The CNN's growth events edit its conv blocks, whose widths are --channels.
  const bool cnn = config_.model == "cnn";
  std::vector<std::vector<int64_t>> widths =
      validate_growth_plan(plan_, cnn ? config_.channels : config_.hidden, config_.epochs, total_steps_);
  // The CNN's growth edits its conv blocks; its dense layers keep --hidden.
  if (cnn) {
    widths.assign(1, config_.hidden);
  } else {
    widths.insert(widths.begin(), config_.hidden);
  }
  std::string hidden_text;
  for (int64_t w : config_.hidden) hidden_text += (hidden_text.empty() ? "" : ",") + std::to_string(w);
  for (size_t i = 0; i < widths.size(); ++i) {
    check_model_size(widths[i], i == 0 ? "with --hidden " + hidden_text
                                       : "after growth event '" + plan_[i - 1].text + "'");
  }
  if (resume_file_) check_progress();
}

// The model never outgrows kMaxParameters: checked on the widths alone,
// before a tensor exists.
void Trainer::check_model_size(const std::vector<int64_t>& hidden, const std::string& where) {
  // Each term is below 2^63 (inputs and widths are far below 2^31), and the
  // sum stops growing past the limit, so nothing overflows.
  int64_t parameters = 0, inputs = features_;
  for (int64_t width : hidden) {
    parameters += (inputs + 1) * width;
    inputs = width;
    if (parameters > kMaxParameters) break;
  }
  if (parameters <= kMaxParameters) parameters += (inputs + 1) * classes_;
  GRAFT_CHECK(parameters <= kMaxParameters, "the model would have ", parameters, " parameters ", where,
              ", more than graft train's limit of ", kMaxParameters,
              " (4 GiB of float32 weights, about 16 GiB with gradients and Adam's slots)"
              "\n  help: use narrower layers (--hidden, widen:UNITS)");
}

// The checkpoint's step, data position and growth events fit this run.
void Trainer::check_progress() {
  const std::string& name = resume_file_->name();
  const io::BatchPosition expected{saved_.step / steps_per_epoch_, saved_.step % steps_per_epoch_};
  GRAFT_CHECK_AS(IoError, saved_.position == expected, name, ": train.step ", saved_.step,
                 " and train.batch_position ", saved_.position.epoch, ",", saved_.position.batch,
                 " disagree: at ", steps_per_epoch_, " steps per epoch, step ", saved_.step, " is at ",
                 expected.epoch, ",", expected.batch,
                 "\n  help: the checkpoint is damaged, or the data differs from the original run's "
                 "(--data-dir, --limit, --batch-size); resume from another checkpoint or with the original data");
  GRAFT_CHECK(saved_.step < total_steps_, "--resume ", name, ": the checkpoint is at step ", saved_.step,
              " and the run has ", total_steps_, " steps (", config_.epochs,
              " epochs): nothing is left to do\n  help: pass a larger --epochs to train further");
  GRAFT_CHECK(config_.max_steps == 0 || config_.max_steps > saved_.step, "--resume ", name,
              ": the checkpoint is at step ", saved_.step, ", so --max-steps ", config_.max_steps,
              " leaves nothing to do\n  help: pass a larger --max-steps, or leave it out to run to the end");
  GRAFT_CHECK(saved_.growth_done <= static_cast<int64_t>(plan_.size()), "--resume ", name, ": the checkpoint ran ",
              saved_.growth_done, " growth events, the plan '", config_.grow, "' has ", plan_.size());
}

void Trainer::build_model() {
  model_ = std::make_unique<nn::Sequential>(config_.model);
  model_->set_seed(config_.seed);
  if (config_.model == "cnn") build_cnn();
  for (int64_t h : config_.hidden) model_->add(nn::Linear(nn::LinearOptions(h).activation(nn::Activation::kRelu)));
  model_->add(nn::Linear(nn::LinearOptions(classes_)));
  model_->build(model_input(Tensor::empty({1, features_})).shape());
  optimizer_ = make_optimizer(config_, make_schedule(config_, total_steps_));
  if (resume_file_) restore();
  dist_.sync(model_->store(), *optimizer_, resume_file_ ? "on resume" : "at start");

  step_body_ = [this](const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor logits = (*model_)(model_input(x));
    Tensor loss = classification_loss(logits, y, config_.label_smoothing);
    std::vector<Variable> vars = model_->trainable_variables();
    std::vector<std::optional<Tensor>> grads = dist_.average(vars, tape.gradient(loss, vars));
    if (config_.clip_norm > 0) grads = optim::clip_by_global_norm(grads, config_.clip_norm).gradients;
    optimizer_->apply_gradients(vars, grads);
    return std::vector<Tensor>{loss, logits};
  };
  train_step_.emplace(step_body_, FunctionOptions().name("train_step"));
  forward_.emplace([this](const Tensor& x) { return (*model_)(model_input(x)); }, FunctionOptions().name("evaluate"));
  probe_ = model_input(test_.images.range(0, std::min<int64_t>(256, test_.size())));
}

// Only now, with everything checked, does the run touch its folder.
void Trainer::open_run_folder() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!resuming_here_ && dist_.is_root()) {
    // A fresh run (or a resume into another folder) replaces what --overwrite allowed it to.
    for (const char* name : {"curves.svg", kCheckpointName}) fs::remove(fs::path(config_.run_dir) / name, ec);
  }
  // Ranks other than 0 log to run_dir/rank_<r>.
  const std::string log_dir =
      dist_.is_root() ? config_.run_dir : (fs::path(config_.run_dir) / ("rank_" + std::to_string(dist_.rank()))).string();
  log_ = std::make_unique<RunLog>(log_dir, resuming_here_ ? std::optional<int64_t>(step_) : std::nullopt);
  checkpoint_path_ = (fs::path(log_->dir()) / kCheckpointName).string();
  if (log_->dropped_lines() > 0) {
    notes_.push_back("metrics.jsonl: kept " + std::to_string(log_->kept_records()) + " records up to step " +
                     std::to_string(step_) + ", dropped " + std::to_string(log_->dropped_lines()) +
                     " lines written after the checkpoint or cut off");
  }
  const int removed = dist_.is_root() ? remove_stale_temporaries(checkpoint_path_) : 0;
  if (removed > 0) {
    notes_.push_back("removed " + std::to_string(removed) + " temporary checkpoint file(s) left by interrupted saves");
  }
}

// Every optimizer tensor saved is in the file: a missing slot would be
// re-created at zero, and the resume would not be exact.
void Trainer::check_optimizer_tensors() {
  const std::string prefix = optimizer_->store().name() + "/";
  int64_t found = 0;
  for (const io::TensorEntry& entry : resume_file_->entries()) found += entry.key.rfind(prefix, 0) == 0 ? 1 : 0;
  GRAFT_CHECK_AS(IoError, found == saved_.optimizer_tensors, resume_file_->name(), ": train.optimizer_tensors says ",
                 saved_.optimizer_tensors, " optimizer tensors were saved, the file holds ", found, " under '",
                 prefix, "' (a missing slot would restart from zero)", kDamaged);
}

// The grown architecture first (shapes and paths; values come next), then
// every tensor by name. Optimizer slots are restored when the first step
// creates them (check_pending_restores).
void Trainer::restore() {
  const std::string& name = resume_file_->name();
  check_optimizer_tensors();
  for (int64_t i = 0; i < saved_.growth_done; ++i) {
    run_edit(*model_, plan_[static_cast<size_t>(i)], edit::EditOptions());
  }
  GRAFT_CHECK_AS(IoError, architecture(*model_) == saved_.architecture, "--resume ", name, ": replaying the first ",
                 saved_.growth_done, " growth events gives ", architecture(*model_), ", the checkpoint holds ",
                 saved_.architecture, "\n  help: resume with the growth plan and --hidden of the original run");
  io::CheckpointReport report = [&] {
    try {
      return io::restore_checkpoint(*resume_file_, {&model_->store(), &optimizer_->store()},
                                    io::CheckpointOptions().strict(true));
    } catch (Error& e) {
      e.add_context("while resuming from " + name);
      throw;
    }
  }();
  optimizer_->set_iterations(saved_.optimizer_iterations);
  batches_->seek(saved_.position);
  step_ = saved_.step;
  next_event_ = static_cast<size_t>(saved_.growth_done);
  result_.growth_events = static_cast<int>(saved_.growth_done);
  result_.resumed_from_step = saved_.step;
  epoch_ = {saved_.epoch_loss, saved_.epoch_hits, saved_.epoch_seen};
  window_ = {saved_.window_loss, saved_.window_hits, saved_.window_seen};
  resumed_line_ = "resumed from " + name + " at step " + std::to_string(step_) + " (epoch " +
                  std::to_string(saved_.position.epoch + 1) + ", batch " + std::to_string(saved_.position.batch) +
                  "): " + std::to_string(report.restore.count(io::RestoreStatus::kMatched)) +
                  " tensors restored by name, " + std::to_string(report.deferred.size()) +
                  " optimizer slots restored when the first step creates them\n";
}

std::vector<Tensor> Trainer::step(const io::Batch& batch) {
  // Drawn from (seed, step), so a resumed run sees the same batches.
  const Tensor x = config_.augment ? io::shift_and_flip(batch.inputs, io::ShiftFlipOptions(image_side_).fill(background_),
                                                        derive_seed(config_.seed, static_cast<uint64_t>(step_)))
                                   : batch.inputs;
  return config_.compile ? (*train_step_)(x, batch.labels) : step_body_(x, batch.labels);
}

Trainer::Evaluation Trainer::evaluate(const io::Dataset& data) {
  const int64_t chunk = 1000;
  Evaluation e;
  int64_t hits = 0;
  // Every rank evaluates with the same running statistics, those of all ranks.
  dist_.average_statistics(model_->store(), "before evaluation");
  model_->eval();
  for (int64_t begin = 0; begin < data.size(); begin += chunk) {
    int64_t end = std::min(data.size(), begin + chunk);
    Tensor x = data.images.range(begin, end);
    Tensor y = slice(data.labels, {begin}, {end});
    Tensor logits = config_.compile && end - begin == chunk ? (*forward_)(x) : (*model_)(model_input(x));
    e.loss += sum(sparse_softmax_cross_entropy(logits, y)).item<double>();
    hits += correct(logits, y);
  }
  model_->train();
  e.loss /= static_cast<double>(data.size());
  e.accuracy = static_cast<double>(hits) / static_cast<double>(data.size());
  return e;
}

void Trainer::grow(const GrowthEvent& event) {
  const edit::EditOptions options =
      edit::EditOptions()
          .probe(probe_)
          .optimizer(optimizer_.get())
          .noise(config_.widen_noise)
          .init(config_.widen_init == "zero_fanout" ? edit::UnitInit::kZeroFanout : edit::UnitInit::kDuplicate)
          .seed(config_.seed + static_cast<uint64_t>(step_));
  edit::EditReport r;
  // On every rank at once; the step names the event identically everywhere.
  const std::string when =
      "at growth event " + std::to_string(result_.growth_events + 1) + " (step " + std::to_string(step_) + ")";
  dist_.grow(model_->store(), optimizer_.get(), when, [&] { r = run_edit(*model_, event, options); });
  end_progress_line();
  char diff[64];
  std::snprintf(diff, sizeof(diff), "%.2g", r.max_difference);
  out_ << "growth at step " << step_ << " (" << event.text << "): " << r.description << "; parameters "
       << r.parameters_before << " -> " << r.parameters_after << "; created " << r.created.size() << ", retired "
       << r.retired.size() << " variables; "
       << (r.verified ? std::string("function preserved (max difference ") + diff + ")" : std::string("not verified"))
       << "; the training step recaptures on its next call\n"
       << "model: " << architecture(*model_) << "\n";
  log_->growth({step_, r.description, r.parameters_before, r.parameters_after, r.created, r.retired});
  ++result_.growth_events;
}

void Trainer::save() {
  // The checkpoint holds every rank's running statistics, averaged, not rank 0's alone.
  dist_.average_statistics(model_->store(), "before saving a checkpoint");
  if (!config_.allow_nonfinite) {
    const std::string bad = first_nonfinite({&model_->store(), &optimizer_->store()});
    GRAFT_CHECK(bad.empty(), "graft train: variable '", bad, "' holds NaN or Inf after step ", step_, kDiverged);
  }
  TrainConfig as_run = config_;
  as_run.threads = num_threads();
  TrainProgress p{step_, batches_->position(), static_cast<int64_t>(next_event_), architecture(*model_),
                  optimizer_->iterations(), static_cast<int64_t>(optimizer_->store().variables().size()),
                  epoch_.loss, epoch_.hits, epoch_.seen, window_.loss, window_.hits, window_.seen};
  dist_.save(checkpoint_path_, {&model_->store(), &optimizer_->store()}, train_metadata(as_run, p));
  result_.checkpoint = checkpoint_path_;
  saved_at_ = step_;
}

void Trainer::announce() {
  bar_ = config_.progress && isatty(STDOUT_FILENO) && &out_ == &std::cout;
  out_ << "graft train: " << train_.size() << " training and " << test_.size() << " test examples, batch "
       << config_.batch_size << ", " << steps_per_epoch_ << " steps per epoch, " << config_.epochs << " epochs, "
       << num_threads() << " threads"
       << (dist_.distributed() ? ", " + std::to_string(dist_.size()) + " ranks of " +
                                     std::to_string(config_.batch_size / dist_.size()) + " examples per step"
                               : std::string())
       << "\n"
       << "model: " << architecture(*model_) << ", " << model_->parameter_count() << " parameters; optimizer "
       << config_.optimizer << " lr " << config_.learning_rate << " (" << config_.schedule << ")\n";
  if (!plan_.empty()) {
    out_ << "growth plan:";
    for (const GrowthEvent& e : plan_) out_ << " [" << e.text << ": " << e.describe() << "]";
    out_ << "\n";
  }
  for (const std::string& note : notes_) out_ << "note: " << note << "\n";
  out_ << resumed_line_;
}

void Trainer::end_progress_line() {
  if (bar_) out_ << "\r" << std::string(100, ' ') << "\r";
}

// The first step after a resume created every optimizer slot: each saved one
// must have found its variable.
void Trainer::check_pending_restores() {
  std::vector<std::string> left = io::pending_restores(optimizer_->store());
  for (const std::string& key : io::pending_restores(model_->store())) left.push_back(key);
  GRAFT_CHECK_AS(IoError, left.empty(), "--resume ", resume_file_->name(), ": ", left.size(),
                 " tensors of the checkpoint found no variable after the first step (first: '",
                 left.empty() ? "" : left[0], "')\n  help: the checkpoint and the rebuilt model disagree; "
                 "resume with the original run's growth plan and optimizer");
  io::cancel_pending_restores(optimizer_->store());
  io::cancel_pending_restores(model_->store());
}

// Adds a step's loss and hits to the window and epoch sums; logs a record
// every log_every steps.
void Trainer::account(const io::Batch& batch, const std::vector<Tensor>& outs) {
  const int64_t epoch = (step_ - 1) / steps_per_epoch_ + 1;  // step_ counts the step just taken
  const double loss = outs[0].item<double>();
  // A diverged run stops before it can save: its parameters are garbage now,
  // and the checkpoint on disk is the last good state.
  GRAFT_CHECK(std::isfinite(loss) || config_.allow_nonfinite, "graft train: the loss of step ", step_, " is ",
              std::isnan(loss) ? "NaN" : "infinite", kDiverged);
  const double hits = static_cast<double>(correct(outs[1], batch.labels));
  const double n = static_cast<double>(batch.labels.numel());
  for (Sums* s : {&window_, &epoch_}) {
    s->loss += loss * n;
    s->hits += hits;
    s->seen += n;
  }
  const double rate = window_.seen / std::max(seconds_since(window_start_), 1e-9);
  if (bar_) {
    show_progress(out_, epoch, config_.epochs, batch.position.batch, steps_per_epoch_, window_.loss / window_.seen,
                  window_.hits / window_.seen, rate);
  }
  if (step_ % config_.log_every != 0) return;
  StepRecord rec{step_, epoch, window_.loss / window_.seen, window_.hits / window_.seen, rate,
                 optimizer_->learning_rate()};
  log_->step(rec);
  if (!bar_) {
    char line[160];
    std::snprintf(line, sizeof(line), "epoch %lld step %lld loss %.4f acc %.4f %.0f samples/s\n",
                  static_cast<long long>(epoch), static_cast<long long>(step_), rec.loss, rec.accuracy, rate);
    out_ << line;
  }
  window_ = {};
  window_start_ = Clock::now();
}

void Trainer::end_epoch(int64_t epoch) {
  Evaluation eval = evaluate(test_);
  end_progress_line();
  EpochRecord rec{epoch, step_, epoch_.loss / epoch_.seen, epoch_.hits / epoch_.seen, eval.loss, eval.accuracy,
                  seconds_since(epoch_start_), model_->parameter_count()};
  log_->epoch(rec);
  log_->write_curves();
  char line[200];
  std::snprintf(line, sizeof(line), "epoch %lld/%lld: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s\n",
                static_cast<long long>(epoch), static_cast<long long>(config_.epochs), rec.loss, rec.accuracy,
                eval.loss, eval.accuracy, rec.seconds);
  out_ << line << std::flush;
  result_.test_accuracy = eval.accuracy;
  result_.test_loss = eval.loss;
  epoch_ = {};
}

void Trainer::loop() {
  announce();
  const int64_t stop_at = config_.max_steps > 0 ? std::min(config_.max_steps, total_steps_) : total_steps_;
  InterruptGuard interrupts;
  window_start_ = epoch_start_ = Clock::now();
  // An interrupt seen by any rank stops every rank after the same step.
  while (step_ < stop_at && !dist_.any(interrupts.signal() != 0)) {
    const int64_t epoch = step_ / steps_per_epoch_ + 1;
    const int64_t b = step_ % steps_per_epoch_;
    if (b == 0) {
      epoch_start_ = Clock::now();
      epoch_ = {};
    }
    io::Batch batch = batches_->next();
    GRAFT_INTERNAL_ASSERT(batch.position == (io::BatchPosition{epoch - 1, b}), "the data iterator is at epoch ",
                          batch.position.epoch, " batch ", batch.position.batch, ", the run at step ", step_);
    std::vector<Tensor> outs = step(batch);
    ++step_;
    if (step_ == result_.resumed_from_step + 1) check_pending_restores();
    account(batch, outs);
    while (next_event_ < plan_.size() && plan_[next_event_].at_step && plan_[next_event_].when == step_) {
      grow(plan_[next_event_++]);
    }
    if (step_ % steps_per_epoch_ == 0) {
      end_epoch(epoch);
      while (next_event_ < plan_.size() && !plan_[next_event_].at_step && plan_[next_event_].when == epoch) {
        grow(plan_[next_event_++]);
      }
    }
    if (config_.checkpoint_every > 0 && step_ % config_.checkpoint_every == 0) save();
  }
  result_.signal = interrupts.signal();  // 0 on the ranks another rank's signal stopped
  interrupted_ = step_ < stop_at;
}

void Trainer::finish() {
  if (saved_at_ != step_) save();
  result_.stopped_early = step_ < total_steps_;
  end_progress_line();
  if (result_.stopped_early) {
    out_ << "stopped at step " << step_ << " of " << total_steps_
         << (result_.signal != 0 ? " (interrupted by signal " + std::to_string(result_.signal) + ")"
             : interrupted_      ? std::string(" (interrupted on another rank)")
                                 : std::string(" (--max-steps)")) << "; checkpoint " << checkpoint_path_
         << "; continue with: graft train --resume " << log_->dir() << "\n";
  }
  // A stopped run is not over: a layer grown at its last step has not trained yet.
  if (!result_.stopped_early) {
    for (const std::string& warning : optimizer_->diagnose(model_->trainable_variables())) {
      out_ << "warning: " << warning << "\n";
    }
  }
  result_.seconds = seconds_since(start_);
  result_.steps = step_;
  result_.parameters = model_->parameter_count();
  result_.captures = train_step_->captures();
  out_ << "\nsummary: " << result_.steps << " steps in " << static_cast<int64_t>(result_.seconds) << " s, "
       << result_.growth_events << " growth events, " << result_.captures << " captures of the training step, "
       << result_.parameters << " parameters, final model " << architecture(*model_) << "\n"
       << train_step_->explain() << "run folder: " << log_->dir() << " (metrics.jsonl, curves.svg, "
       << kCheckpointName << ")\n";
  char last[64];
  std::snprintf(last, sizeof(last), "test_accuracy=%.4f\n", result_.test_accuracy);
  out_ << last;
}

}  // namespace graft::cli
