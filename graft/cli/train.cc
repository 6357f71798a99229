#include "graft/cli/train.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "graft/base/check.h"
#include "graft/cli/growth_plan.h"
#include "graft/cli/train_state.h"
#include "graft/cli/trainer.h"

namespace graft::cli {

namespace {

// Names a setting in messages: the flag when the user gave it (or on a fresh
// run), the checkpoint's key when a resumed run took it from there.
class SettingNames {
 public:
  explicit SettingNames(const TrainConfig& c) : config_(c) {
    if (!c.resume.empty()) file_ = checkpoint_file_of(c.resume);
  }
  std::string operator()(const std::string& flag) const {
    if (file_.empty() || config_.given_flags.contains("--" + flag)) return "--" + flag;
    return "the checkpoint's setting train.config." + flag + " (" + file_ + ")";
  }
  // The help line for a bad value.
  std::string help(const std::string& flag, const std::string& fix) const {
    if (file_.empty() || config_.given_flags.contains("--" + flag)) return "\n  help: " + fix;
    return "\n  help: the checkpoint is damaged or was edited; resume from another checkpoint or start a new run";
  }

 private:
  const TrainConfig& config_;
  std::string file_;
};

}  // namespace

void validate_config(const TrainConfig& c) {
  const SettingNames name(c);
  const char* fix = "pass a value in that range";
  auto in_range = [&](const char* flag, int64_t value, int64_t lo, int64_t hi, const std::string& meaning) {
    GRAFT_CHECK(value >= lo && value <= hi, name(flag), " must be between ", lo, " and ", hi, meaning, ", got ", value,
                name.help(flag, fix));
  };
  auto finite_at_least_0 = [&](const char* flag, double value, const std::string& meaning) {
    GRAFT_CHECK(std::isfinite(value) && value >= 0, name(flag), " must be a finite number >= 0", meaning, ", got ",
                value, name.help(flag, fix));
  };
  in_range("epochs", c.epochs, 1, kMaxEpochs, "");
  in_range("batch-size", c.batch_size, 1, kMaxSteps, "");
  GRAFT_CHECK(std::isfinite(c.learning_rate) && c.learning_rate > 0, name("lr"), " must be a finite number > 0, got ",
              c.learning_rate, name.help("lr", fix));
  GRAFT_CHECK(!c.hidden.empty() && static_cast<int64_t>(c.hidden.size()) <= kMaxHiddenLayers, name("hidden"),
              " needs between 1 and ", kMaxHiddenLayers, " hidden layer widths, e.g. --hidden 128; got ",
              c.hidden.size(), name.help("hidden", fix));
  for (int64_t h : c.hidden) in_range("hidden", h, 1, kMaxWidth, " units per layer (graft train's limit)");
  GRAFT_CHECK(c.optimizer == "adam" || c.optimizer == "adamw" || c.optimizer == "sgd" || c.optimizer == "momentum",
              name("optimizer"), " must be adam, adamw, sgd or momentum, got '", c.optimizer, "'",
              name.help("optimizer", "pick one of those"));
  GRAFT_CHECK(c.schedule == "constant" || c.schedule == "cosine" || c.schedule == "step", name("schedule"),
              " must be constant, cosine or step, got '", c.schedule, "'", name.help("schedule", "pick one of those"));
  in_range("warmup", c.warmup_steps, 0, kMaxSteps, " steps");
  finite_at_least_0("weight-decay", c.weight_decay, "");
  finite_at_least_0("clip-norm", c.clip_norm, " (0: off)");
  finite_at_least_0("widen-noise", c.widen_noise, "");
  in_range("threads", c.threads, 0, kMaxThreads, " (0: every core; graft train's limit is " +
           std::to_string(kMaxThreads) + ")");
  in_range("log-every", c.log_every, 1, kMaxSteps, " steps");
  in_range("limit", c.limit, 0, kMaxSteps, " examples (0: all)");
  in_range("checkpoint-every", c.checkpoint_every, 0, kMaxSteps, " steps (0: only at the end)");
  in_range("max-steps", c.max_steps, 0, kMaxSteps, " (0: every epoch)");
  GRAFT_CHECK(c.model == "mlp" || c.model == "cnn", name("model"), " must be mlp or cnn, got '", c.model, "'",
              name.help("model", "pick one of those"));
  GRAFT_CHECK(!c.channels.empty() && static_cast<int64_t>(c.channels.size()) <= kMaxHiddenLayers, name("channels"),
              " needs between 1 and ", kMaxHiddenLayers, " conv block widths, e.g. --channels 16,32; got ",
              c.channels.size(), name.help("channels", fix));
  for (int64_t ch : c.channels) in_range("channels", ch, 1, kMaxWidth, " channels per block (graft train's limit)");
  GRAFT_CHECK(std::isfinite(c.label_smoothing) && c.label_smoothing >= 0 && c.label_smoothing < 1,
              name("label-smoothing"), " must be in [0, 1), got ", c.label_smoothing, name.help("label-smoothing", fix));
  GRAFT_CHECK(c.widen_init == "duplicate" || c.widen_init == "zero_fanout", name("widen-init"),
              " must be duplicate or zero_fanout, got '", c.widen_init, "'", name.help("widen-init", "pick one of those"));
}

std::vector<int64_t> parse_widths(const std::string& text, const std::string& flag) {
  std::vector<int64_t> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(part.c_str(), &end, 10);
    GRAFT_CHECK(!part.empty() && end != nullptr && *end == '\0' && v > 0, flag, " expects positive widths separated "
                "by commas, e.g. 256,128; got '", text, "'");
    GRAFT_CHECK(errno != ERANGE && v <= kMaxWidth, flag, " widths must be at most ", kMaxWidth,
                " units (graft train's limit for one layer), got '", part, "'");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

TrainResult run_training(const TrainConfig& config, std::ostream& out) {
  Trainer trainer(config, out);
  return trainer.run();
}

}  // namespace graft::cli
