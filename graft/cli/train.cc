#include "graft/cli/train.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "graft/autodiff/tape.h"
#include "graft/cli/growth_plan.h"
#include "graft/cli/run_log.h"
#include "graft/cli/train_state.h"
#include "graft/edit/edit.h"
#include "graft/io/batches.h"
#include "graft/io/checkpoint.h"
#include "graft/io/fashion_mnist.h"
#include "graft/nn/layers.h"
#include "graft/ops/ops.h"
#include "graft/optim/adam.h"
#include "graft/optim/sgd.h"
#include "graft/tensor/parallel.h"
#include "graft/trace/function.h"

namespace graft::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void check_config(const TrainConfig& c) {
  GRAFT_CHECK(c.epochs >= 1, "--epochs must be at least 1, got ", c.epochs);
  GRAFT_CHECK(c.batch_size >= 1, "--batch-size must be at least 1, got ", c.batch_size);
  GRAFT_CHECK(c.learning_rate > 0 && std::isfinite(c.learning_rate), "--lr must be a positive number, got ",
              c.learning_rate);
  GRAFT_CHECK(c.hidden.size() >= 1, "--hidden needs at least one hidden layer width, e.g. --hidden 128");
  for (int64_t h : c.hidden) GRAFT_CHECK(h >= 1, "--hidden widths must be at least 1, got ", h);
  GRAFT_CHECK(c.optimizer == "adam" || c.optimizer == "adamw" || c.optimizer == "sgd" || c.optimizer == "momentum",
              "--optimizer must be adam, adamw, sgd or momentum, got '", c.optimizer, "'");
  GRAFT_CHECK(c.schedule == "constant" || c.schedule == "cosine" || c.schedule == "step",
              "--schedule must be constant, cosine or step, got '", c.schedule, "'");
  GRAFT_CHECK(c.log_every >= 1, "--log-every must be at least 1, got ", c.log_every);
  GRAFT_CHECK(c.threads >= 0, "--threads must be >= 0 (0: every core), got ", c.threads);
  GRAFT_CHECK(c.limit >= 0, "--limit must be >= 0, got ", c.limit);
  GRAFT_CHECK(c.clip_norm >= 0, "--clip-norm must be >= 0 (0: off), got ", c.clip_norm);
}

LearningRateSchedule make_schedule(const TrainConfig& c, int64_t total_steps) {
  LearningRateSchedule s = c.schedule == "constant" ? schedule::constant(c.learning_rate)
                           : c.schedule == "step"   ? schedule::step_decay(c.learning_rate, std::max<int64_t>(1, total_steps / 3), 0.3)
                                                    : schedule::cosine(c.learning_rate, total_steps, c.learning_rate * 0.01);
  return c.warmup_steps > 0 ? schedule::warmup(c.warmup_steps, s) : s;
}

std::unique_ptr<Optimizer> make_optimizer(const TrainConfig& c, LearningRateSchedule s) {
  if (c.optimizer == "sgd") return std::make_unique<SGD>(SGDOptions(c.learning_rate).schedule(s).weight_decay(c.weight_decay));
  if (c.optimizer == "momentum") {
    return std::make_unique<SGD>(SGDOptions(c.learning_rate).schedule(s).momentum(0.9).nesterov(true).weight_decay(c.weight_decay));
  }
  if (c.optimizer == "adamw") {
    return std::make_unique<Adam>(adamw_options(c.learning_rate, c.weight_decay > 0 ? c.weight_decay : 0.01).schedule(s));
  }
  return std::make_unique<Adam>(AdamOptions(c.learning_rate).schedule(s).weight_decay(c.weight_decay));
}

// Fraction of rows whose largest logit is at the label.
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

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
};

// Hidden layer L's position in the Sequential.
size_t hidden_position(nn::Sequential& model, int layer) {
  std::vector<size_t> linears = edit::linear_positions(model);
  size_t hidden = linears.size() - 1;  // the last Linear is the output layer
  return linears.at(layer < 0 ? hidden - 1 : static_cast<size_t>(layer));
}

// "784 -> 128 relu -> 10": the widths of the Linear layers.
std::string architecture(nn::Sequential& model) {
  std::string text;
  for (size_t i : edit::linear_positions(model)) {
    auto layer = std::dynamic_pointer_cast<nn::Linear>(model.at(i));
    if (text.empty()) text = std::to_string(layer->in_features());
    text += " -> " + std::to_string(layer->options().out_features_);
    if (layer->options().activation_ != nn::Activation::kNone) {
      text += std::string(" ") + nn::activation_name(layer->options().activation_);
    }
  }
  return text;
}

class Progress {
 public:
  Progress(std::ostream& out, bool bar) : out_(out), bar_(bar) {}

  void update(int64_t epoch, int64_t epochs, int64_t batch, int64_t batches, double loss, double acc, double rate) {
    if (!bar_) return;
    const int width = 30;
    int filled = static_cast<int>(width * (batch + 1) / std::max<int64_t>(batches, 1));
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    char line[200];
    std::snprintf(line, sizeof(line), "\repoch %lld/%lld [%s] loss %.4f acc %.4f %.0f samples/s ",
                  static_cast<long long>(epoch), static_cast<long long>(epochs), bar.c_str(), loss, acc, rate);
    out_ << line << std::flush;
  }
  void end_line() {
    if (bar_) out_ << "\r" << std::string(100, ' ') << "\r";
  }

 private:
  std::ostream& out_;
  bool bar_;
};

// Runs one growth event's edit on `model`.
edit::EditReport run_edit(nn::Sequential& model, const GrowthEvent& e, const edit::EditOptions& options) {
  size_t position = hidden_position(model, e.layer);
  return e.action == GrowthEvent::Action::kDeepen ? edit::deepen(model, position, options)
         : e.action == GrowthEvent::Action::kWiden ? edit::widen(model, position, e.units, options)
                                                    : edit::prune(model, position, e.units, options);
}

// SIGINT / SIGTERM end a run after its current step, with a checkpoint; a
// second signal ends the process as usual.
volatile std::sig_atomic_t g_interrupted = 0;

void on_interrupt(int signal) {
  g_interrupted = 1;
  std::signal(signal, SIG_DFL);
}

class InterruptGuard {
 public:
  InterruptGuard() {
    g_interrupted = 0;
    old_int_ = std::signal(SIGINT, on_interrupt);
    old_term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptGuard() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  bool interrupted() const { return g_interrupted != 0; }

 private:
  void (*old_int_)(int) = nullptr;
  void (*old_term_)(int) = nullptr;
};

}  // namespace

std::vector<int64_t> parse_widths(const std::string& text) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    long long v = std::strtoll(part.c_str(), &end, 10);
    GRAFT_CHECK(!part.empty() && end != nullptr && *end == '\0' && v > 0, "--hidden expects positive widths separated "
                "by commas, e.g. 256,128; got '", text, "'");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

TrainResult run_training(const TrainConfig& requested, std::ostream& out) {
  const auto start = Clock::now();
  TrainConfig config = requested;
  // A resumed run takes the settings it was not given from the checkpoint.
  std::optional<io::SafetensorsFile> resume_file;
  std::vector<std::string> notes;
  if (!config.resume.empty()) {
    const std::string path = checkpoint_file_of(config.resume);
    try {
      resume_file = io::SafetensorsFile::read(path);
      notes = adopt_checkpoint_config(config, resume_file->metadata(), path);
    } catch (Error& e) {
      e.add_context("while resuming from " + path);
      throw;
    }
  }
  check_config(config);
  GRAFT_CHECK(config.checkpoint_every >= 0, "--checkpoint-every must be >= 0 (0: only at the end), got ",
              config.checkpoint_every);
  GRAFT_CHECK(config.max_steps >= 0, "--max-steps must be >= 0 (0: every epoch), got ", config.max_steps);
  GrowthPlan plan = parse_growth_plan(config.grow);
  if (config.threads > 0) set_num_threads(config.threads);

  // Data, before anything trains.
  io::FashionMnistOptions data_options = io::FashionMnistOptions().data_dir(config.data_dir).normalize(true);
  io::Dataset train = io::load_fashion_mnist(io::Split::kTrain, data_options);
  io::Dataset test = io::load_fashion_mnist(io::Split::kTest, data_options);
  if (config.limit > 0 && config.limit < train.size()) {
    train.images = slice(train.images, {0, 0}, {config.limit, 784}).clone();
    train.labels = slice(train.labels, {0}, {config.limit}).clone();
  }
  GRAFT_CHECK(train.size() >= config.batch_size, "--batch-size ", config.batch_size, " is larger than the ",
              train.size(), " training examples");
  io::BatchIterator batches(train.images, train.labels,
                            io::BatchOptions(config.batch_size).seed(config.seed).drop_last(true));
  const int64_t steps_per_epoch = batches.batches_per_epoch();
  const int64_t total_steps = steps_per_epoch * config.epochs;
  sort_growth_plan(plan, steps_per_epoch);
  validate_growth_plan(plan, config.hidden, config.epochs, total_steps);
  TrainProgress saved;
  if (resume_file) {
    saved = parse_train_progress(resume_file->metadata(), resume_file->name());
    GRAFT_CHECK(saved.step < total_steps, "--resume ", resume_file->name(), ": the checkpoint is at step ", saved.step,
                " and the run has ", total_steps, " steps (", config.epochs,
                " epochs): nothing is left to do\n  help: pass a larger --epochs to train further");
    GRAFT_CHECK(saved.growth_done <= static_cast<int64_t>(plan.size()), "--resume ", resume_file->name(),
                ": the checkpoint ran ", saved.growth_done, " growth events, the plan '", config.grow, "' has ",
                plan.size());
  }
  const bool same_folder = resume_file && std::filesystem::exists(config.run_dir) &&
                           std::filesystem::equivalent(config.run_dir,
                                                       std::filesystem::path(resume_file->name()).parent_path());
  RunLog log(config.run_dir, /*append=*/same_folder);
  const std::string checkpoint_path = (std::filesystem::path(log.dir()) / kCheckpointName).string();

  // Model and optimizer.
  nn::Sequential model("mlp");
  model.set_seed(config.seed);
  for (int64_t h : config.hidden) model.add(nn::Linear(nn::LinearOptions(h).activation(nn::Activation::kRelu)));
  model.add(nn::Linear(nn::LinearOptions(10)));
  model.build(Shape{1, 784});
  std::unique_ptr<Optimizer> optimizer = make_optimizer(config, make_schedule(config, total_steps));

  TrainResult result;
  size_t next_event = 0;
  int64_t step = 0;
  double window_loss = 0, window_hits = 0, window_seen = 0;
  double epoch_loss = 0, epoch_hits = 0, epoch_seen = 0;
  std::string resumed_line;
  if (resume_file) {
    // The grown architecture first (shapes and paths; values come next), then
    // every tensor by name. Optimizer slots are restored when the first step
    // creates them.
    for (int64_t i = 0; i < saved.growth_done; ++i) run_edit(model, plan[static_cast<size_t>(i)], edit::EditOptions());
    GRAFT_CHECK_AS(IoError, architecture(model) == saved.architecture, "--resume ", resume_file->name(),
                   ": replaying the first ", saved.growth_done, " growth events gives ", architecture(model),
                   ", the checkpoint holds ", saved.architecture,
                   "\n  help: resume with the growth plan and --hidden of the original run");
    io::CheckpointReport report = [&] {
      try {
        return io::restore_checkpoint(*resume_file, {&model.store(), &optimizer->store()},
                                      io::CheckpointOptions().strict(true));
      } catch (Error& e) {
        e.add_context("while resuming from " + resume_file->name());
        throw;
      }
    }();
    optimizer->set_iterations(saved.optimizer_iterations);
    batches.seek(saved.position);
    step = saved.step;
    next_event = static_cast<size_t>(saved.growth_done);
    result.growth_events = static_cast<int>(saved.growth_done);
    result.resumed_from_step = saved.step;
    epoch_loss = saved.epoch_loss, epoch_hits = saved.epoch_hits, epoch_seen = saved.epoch_seen;
    window_loss = saved.window_loss, window_hits = saved.window_hits, window_seen = saved.window_seen;
    resumed_line = "resumed from " + resume_file->name() + " at step " + std::to_string(step) + " (epoch " +
                   std::to_string(saved.position.epoch + 1) + ", batch " + std::to_string(saved.position.batch) +
                   "): " + std::to_string(report.restore.count(io::RestoreStatus::kMatched)) +
                   " tensors restored by name, " + std::to_string(report.deferred.size()) +
                   " optimizer slots restored when the first step creates them\n";
  }

  auto step_body = [&](const Tensor& x, const Tensor& y) {
    GradientTape tape;
    Tensor logits = model(x);
    Tensor loss = mean(sparse_softmax_cross_entropy(logits, y));
    std::vector<Variable> vars = model.trainable_variables();
    std::vector<std::optional<Tensor>> grads = tape.gradient(loss, vars);
    if (config.clip_norm > 0) grads = clip_by_global_norm(grads, config.clip_norm).gradients;
    optimizer->apply_gradients(vars, grads);
    return std::vector<Tensor>{loss, logits};
  };
  auto train_step = function(step_body, FunctionOptions().name("train_step"));
  auto forward = function([&](const Tensor& x) { return model(x); }, FunctionOptions().name("evaluate"));
  auto evaluate = [&](const io::Dataset& data) {
    const int64_t chunk = 1000;
    Evaluation e;
    int64_t hits = 0;
    model.eval();
    for (int64_t begin = 0; begin < data.size(); begin += chunk) {
      int64_t end = std::min(data.size(), begin + chunk);
      Tensor x = slice(data.images, {begin, 0}, {end, 784});
      Tensor y = slice(data.labels, {begin}, {end});
      Tensor logits = config.compile && end - begin == chunk ? forward(x) : model(x);
      e.loss += sum(sparse_softmax_cross_entropy(logits, y)).item<double>();
      hits += correct(logits, y);
    }
    model.train();
    e.loss /= static_cast<double>(data.size());
    e.accuracy = static_cast<double>(hits) / static_cast<double>(data.size());
    return e;
  };

  const bool bar = config.progress && isatty(STDOUT_FILENO) && &out == &std::cout;
  Progress progress(out, bar);
  out << "graft train: " << train.size() << " training and " << test.size() << " test examples, batch "
      << config.batch_size << ", " << steps_per_epoch << " steps per epoch, " << config.epochs << " epochs, "
      << num_threads() << " threads\n"
      << "model: " << architecture(model) << ", " << model.parameter_count() << " parameters; optimizer "
      << config.optimizer << " lr " << config.learning_rate << " (" << config.schedule << ")\n";
  if (!plan.empty()) {
    out << "growth plan:";
    for (const GrowthEvent& e : plan) out << " [" << e.text << ": " << e.describe() << "]";
    out << "\n";
  }
  for (const std::string& note : notes) out << "note: " << note << "\n";
  out << resumed_line;

  auto window_start = Clock::now();
  Tensor probe = slice(test.images, {0, 0}, {256, 784}).clone();

  auto grow = [&](const GrowthEvent& e) {
    edit::EditOptions options;
    options.probe = probe;
    options.optimizer = optimizer.get();
    options.noise = config.widen_noise;
    options.seed = config.seed + static_cast<uint64_t>(step);
    edit::EditReport r = run_edit(model, e, options);
    progress.end_line();
    char diff[64];
    std::snprintf(diff, sizeof(diff), "%.2g", r.max_difference);
    out << "growth at step " << step << " (" << e.text << "): " << r.description << "; parameters "
        << r.parameters_before << " -> " << r.parameters_after << "; created " << r.created.size() << ", retired "
        << r.retired.size() << " variables; "
        << (r.verified ? std::string("function preserved (max difference ") + diff + ")" : std::string("not verified"))
        << "; the training step recaptures on its next call\n"
        << "model: " << architecture(model) << "\n";
    log.growth({step, r.description, r.parameters_before, r.parameters_after, r.created, r.retired});
    ++result.growth_events;
  };

  int64_t saved_at = -1;
  auto save = [&] {
    TrainConfig as_run = config;
    as_run.threads = num_threads();
    TrainProgress p{step, batches.position(), static_cast<int64_t>(next_event), architecture(model),
                    optimizer->iterations(), epoch_loss, epoch_hits, epoch_seen, window_loss, window_hits,
                    window_seen};
    io::save_checkpoint(checkpoint_path, {&model.store(), &optimizer->store()}, train_metadata(as_run, p));
    result.checkpoint = checkpoint_path;
    saved_at = step;
  };

  const int64_t stop_at = config.max_steps > 0 ? std::min(config.max_steps, total_steps) : total_steps;
  InterruptGuard interrupts;
  auto epoch_start = Clock::now();
  while (step < stop_at && !interrupts.interrupted()) {
    const int64_t epoch = step / steps_per_epoch + 1;
    const int64_t b = step % steps_per_epoch;
    if (b == 0) {
      epoch_start = Clock::now();
      epoch_loss = epoch_hits = epoch_seen = 0;
    }
    io::Batch batch = batches.next();
    GRAFT_INTERNAL_ASSERT(batch.position == (io::BatchPosition{epoch - 1, b}), "the data iterator is at epoch ",
                          batch.position.epoch, " batch ", batch.position.batch, ", the run at step ", step);
    std::vector<Tensor> outs = config.compile ? train_step(batch.inputs, batch.labels)
                                              : step_body(batch.inputs, batch.labels);
    ++step;
    if (step == result.resumed_from_step + 1) {
      // The first step created every optimizer slot: each saved one must have found its variable.
      std::vector<std::string> left = io::pending_restores(optimizer->store());
      for (const std::string& key : io::pending_restores(model.store())) left.push_back(key);
      GRAFT_CHECK_AS(IoError, left.empty(), "--resume ", resume_file->name(), ": ", left.size(),
                     " tensors of the checkpoint found no variable after the first step (first: '",
                     left.empty() ? "" : left[0], "')\n  help: the checkpoint and the rebuilt model disagree; "
                     "resume with the original run's growth plan and optimizer");
      io::cancel_pending_restores(optimizer->store());
      io::cancel_pending_restores(model.store());
    }
    double loss = outs[0].item<double>();
    int64_t hits = correct(outs[1], batch.labels);
    const double n = static_cast<double>(batch.labels.numel());
    window_loss += loss * n;
    window_hits += static_cast<double>(hits);
    window_seen += n;
    epoch_loss += loss * n;
    epoch_hits += static_cast<double>(hits);
    epoch_seen += n;
    double rate = window_seen / std::max(seconds_since(window_start), 1e-9);
    progress.update(epoch, config.epochs, b, steps_per_epoch, window_loss / window_seen, window_hits / window_seen,
                    rate);
    if (step % config.log_every == 0) {
      StepRecord rec{step, epoch, window_loss / window_seen, window_hits / window_seen, rate,
                     optimizer->learning_rate()};
      log.step(rec);
      if (!bar) {
        char line[160];
        std::snprintf(line, sizeof(line), "epoch %lld step %lld loss %.4f acc %.4f %.0f samples/s\n",
                      static_cast<long long>(epoch), static_cast<long long>(step), rec.loss, rec.accuracy, rate);
        out << line;
      }
      window_loss = window_hits = window_seen = 0;
      window_start = Clock::now();
    }
    while (next_event < plan.size() && plan[next_event].at_step && plan[next_event].when == step) {
      grow(plan[next_event++]);
    }
    if (step % steps_per_epoch == 0) {
      Evaluation eval = evaluate(test);
      progress.end_line();
      EpochRecord rec{epoch, step, epoch_loss / epoch_seen, epoch_hits / epoch_seen, eval.loss, eval.accuracy,
                      seconds_since(epoch_start), model.parameter_count()};
      log.epoch(rec);
      log.write_curves();
      char line[200];
      std::snprintf(line, sizeof(line), "epoch %lld/%lld: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s\n",
                    static_cast<long long>(epoch), static_cast<long long>(config.epochs), rec.loss, rec.accuracy,
                    eval.loss, eval.accuracy, rec.seconds);
      out << line << std::flush;
      result.test_accuracy = eval.accuracy;
      result.test_loss = eval.loss;
      epoch_loss = epoch_hits = epoch_seen = 0;
      while (next_event < plan.size() && !plan[next_event].at_step && plan[next_event].when == epoch) {
        grow(plan[next_event++]);
      }
    }
    if (config.checkpoint_every > 0 && step % config.checkpoint_every == 0) save();
  }
  if (saved_at != step) save();
  result.stopped_early = step < total_steps;
  progress.end_line();
  if (result.stopped_early) {
    out << "stopped at step " << step << " of " << total_steps
        << (interrupts.interrupted() ? " (interrupted)" : " (--max-steps)") << "; checkpoint " << checkpoint_path
        << "; continue with: graft train --resume " << log.dir() << "\n";
  }

  // A stopped run is not over: a layer grown at its last step has not trained yet.
  for (const std::string& warning : result.stopped_early ? std::vector<std::string>{}
                                                         : optimizer->diagnose(model.trainable_variables())) {
    out << "warning: " << warning << "\n";
  }
  result.seconds = seconds_since(start);
  result.steps = step;
  result.parameters = model.parameter_count();
  result.captures = train_step.captures();
  out << "\nsummary: " << result.steps << " steps in " << static_cast<int64_t>(result.seconds) << " s, "
      << result.growth_events << " growth events, " << result.captures << " captures of the training step, "
      << result.parameters << " parameters, final model " << architecture(model) << "\n"
      << train_step.explain() << "run folder: " << log.dir() << " (metrics.jsonl, curves.svg, " << kCheckpointName
      << ")\n";
  char last[64];
  std::snprintf(last, sizeof(last), "test_accuracy=%.4f\n", result.test_accuracy);
  out << last;
  return result;
}

}  // namespace graft::cli
