#include "graft/cli/train_state.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>

#include "graft/base/check.h"

namespace graft::cli {
namespace {

std::string exact(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

std::string widths_text(const std::vector<int64_t>& widths) {
  std::string out;
  for (int64_t w : widths) out += (out.empty() ? "" : ",") + std::to_string(w);
  return out;
}

// Numbers in the metadata, parsed strictly.
struct Reader {
  const io::Metadata& metadata;
  const std::string& file;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw IoError(file + ": " + what + " (metadata key '" + key +
                  "')\n  help: --resume needs a checkpoint written by graft train (run folder/checkpoint.safetensors); "
                  "this file was written by something else or is damaged");
  }
  const std::string& text(const std::string& key) const {
    auto it = metadata.find(key);
    if (it == metadata.end()) fail(key, "not a graft train checkpoint: the key is absent");
    return it->second;
  }
  std::vector<double> numbers(const std::string& key, size_t count) const {
    const std::string& s = text(key);
    std::vector<double> out;
    const char* p = s.c_str();
    for (size_t i = 0; i < count; ++i) {
      char* end = nullptr;
      out.push_back(std::strtod(p, &end));
      if (end == p || (i + 1 < count ? *end != ',' : *end != '\0') || !std::isfinite(out.back()) || out.back() < 0) {
        fail(key, "expected " + std::to_string(count) + " comma-separated finite number(s) >= 0, found '" + s + "'");
      }
      p = end + 1;
    }
    return out;
  }
  int64_t integer(const std::string& key) const {
    const std::string& s = text(key);
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < 0 || errno == ERANGE) {
      fail(key, "expected a whole number >= 0, found '" + s + "'");
    }
    return v;
  }
};

// Saved settings, parsed whole: a damaged value is an error, never a 0.
int64_t to_integer(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v.c_str(), &end, 10);
  GRAFT_CHECK(!v.empty() && *end == '\0' && errno != ERANGE, "expected a whole number, found '", v, "'");
  return x;
}
double to_double(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v.c_str(), &end);
  GRAFT_CHECK(!v.empty() && *end == '\0' && errno != ERANGE, "expected a number, found '", v, "'");
  return x;
}
uint64_t to_unsigned(const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  GRAFT_CHECK(!v.empty() && v[0] != '-' && *end == '\0' && errno != ERANGE, "expected a whole number >= 0, found '",
              v, "'");
  return x;
}
bool to_bool(const std::string& v) {
  GRAFT_CHECK(v == "0" || v == "1", "expected 0 or 1, found '", v, "'");
  return v == "1";
}

// One setting that shapes a run's trajectory or how it goes on. `changeable`
// ones may differ on resume; `optional` ones may be absent from checkpoints
// written before they were saved (the default then stands).
struct Setting {
  const char* flag;
  std::function<std::string(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const std::string&)> set;
  bool changeable = false;
  bool optional = false;
};

template <typename T>
Setting integer_setting(const char* flag, T TrainConfig::*field, bool changeable = false, bool optional = false) {
  return {flag, [field](const TrainConfig& c) { return std::to_string(c.*field); },
          [field](TrainConfig& c, const std::string& v) {
            int64_t x = to_integer(v);
            GRAFT_CHECK(x >= std::numeric_limits<T>::min() && x <= std::numeric_limits<T>::max(),
                        "expected a whole number that fits, found '", v, "'");
            c.*field = static_cast<T>(x);
          },
          changeable, optional};
}

Setting double_setting(const char* flag, double TrainConfig::*field) {
  return {flag, [field](const TrainConfig& c) { return exact(c.*field); },
          [field](TrainConfig& c, const std::string& v) { c.*field = to_double(v); }};
}

Setting text_setting(const char* flag, std::string TrainConfig::*field, bool changeable = false, bool optional = false) {
  return {flag, [field](const TrainConfig& c) { return c.*field; },
          [field](TrainConfig& c, const std::string& v) { c.*field = v; }, changeable, optional};
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"model", [](const TrainConfig& c) { return c.model; }, [](TrainConfig& c, const std::string& v) { c.model = v; }},
      {"channels", [](const TrainConfig& c) { return widths_text(c.channels); },
       [](TrainConfig& c, const std::string& v) { c.channels = parse_widths(v, "--channels"); }},
      {"augment", [](const TrainConfig& c) { return std::string(c.augment ? "1" : "0"); },
       [](TrainConfig& c, const std::string& v) { c.augment = v == "1"; }},
      {"label-smoothing", [](const TrainConfig& c) { return exact(c.label_smoothing); },
       [](TrainConfig& c, const std::string& v) { c.label_smoothing = std::strtod(v.c_str(), nullptr); }},
      {"widen-init", [](const TrainConfig& c) { return c.widen_init; },
       [](TrainConfig& c, const std::string& v) { c.widen_init = v; }},
      {"hidden", [](const TrainConfig& c) { return widths_text(c.hidden); },
       [](TrainConfig& c, const std::string& v) { c.hidden = parse_widths(v); }},
      text_setting("optimizer", &TrainConfig::optimizer),
      double_setting("lr", &TrainConfig::learning_rate),
      text_setting("schedule", &TrainConfig::schedule),
      integer_setting("warmup", &TrainConfig::warmup_steps),
      double_setting("weight-decay", &TrainConfig::weight_decay),
      double_setting("clip-norm", &TrainConfig::clip_norm),
      integer_setting("epochs", &TrainConfig::epochs, /*changeable=*/true),
      integer_setting("batch-size", &TrainConfig::batch_size),
      {"seed", [](const TrainConfig& c) { return std::to_string(c.seed); },
       [](TrainConfig& c, const std::string& v) { c.seed = to_unsigned(v); }},
      text_setting("grow", &TrainConfig::grow),
      double_setting("widen-noise", &TrainConfig::widen_noise),
      integer_setting("limit", &TrainConfig::limit),
      integer_setting("log-every", &TrainConfig::log_every, /*changeable=*/true),
      integer_setting("threads", &TrainConfig::threads, /*changeable=*/true),
      // How the run goes on: where its data is, when it saves and stops, how it steps.
      integer_setting("checkpoint-every", &TrainConfig::checkpoint_every, true, /*optional=*/true),
      integer_setting("max-steps", &TrainConfig::max_steps, true, /*optional=*/true),
      text_setting("data-dir", &TrainConfig::data_dir, true, /*optional=*/true),
      {"eager", [](const TrainConfig& c) { return std::string(c.compile ? "0" : "1"); },
       [](TrainConfig& c, const std::string& v) { c.compile = !to_bool(v); }, true, /*optional=*/true},
  };
  return all;
}

}  // namespace

io::Metadata train_metadata(const TrainConfig& config, const TrainProgress& p) {
  io::Metadata m;
  m["train.step"] = std::to_string(p.step);
  m["train.batch_position"] = std::to_string(p.position.epoch) + "," + std::to_string(p.position.batch);
  m["train.growth_done"] = std::to_string(p.growth_done);
  m["train.architecture"] = p.architecture;
  m["train.optimizer_iterations"] = std::to_string(p.optimizer_iterations);
  m["train.optimizer_tensors"] = std::to_string(p.optimizer_tensors);
  m["train.epoch_sums"] = exact(p.epoch_loss) + "," + exact(p.epoch_hits) + "," + exact(p.epoch_seen);
  m["train.window_sums"] = exact(p.window_loss) + "," + exact(p.window_hits) + "," + exact(p.window_seen);
  for (const Setting& s : settings()) m[std::string("train.config.") + s.flag] = s.get(config);
  return m;
}

TrainProgress parse_train_progress(const io::Metadata& metadata, const std::string& file) {
  Reader r{metadata, file};
  TrainProgress p;
  p.step = r.integer("train.step");
  std::vector<double> pos = r.numbers("train.batch_position", 2);
  for (double v : pos) {
    if (v != std::floor(v) || v > 9e15) r.fail("train.batch_position", "expected EPOCH,BATCH, two whole numbers");
  }
  p.position = {static_cast<int64_t>(pos[0]), static_cast<int64_t>(pos[1])};
  p.growth_done = r.integer("train.growth_done");
  p.architecture = r.text("train.architecture");
  p.optimizer_iterations = r.integer("train.optimizer_iterations");
  p.optimizer_tensors = r.integer("train.optimizer_tensors");
  std::vector<double> e = r.numbers("train.epoch_sums", 3);
  std::vector<double> w = r.numbers("train.window_sums", 3);
  p.epoch_loss = e[0], p.epoch_hits = e[1], p.epoch_seen = e[2];
  p.window_loss = w[0], p.window_hits = w[1], p.window_seen = w[2];
  return p;
}

std::vector<std::string> adopt_checkpoint_config(TrainConfig& config, const io::Metadata& metadata,
                                                 const std::string& file) {
  Reader r{metadata, file};
  std::vector<std::string> notes;
  std::string conflicts;
  for (const Setting& s : settings()) {
    const std::string key = std::string("train.config.") + s.flag;
    if (s.optional && !metadata.contains(key)) continue;
    const std::string saved = r.text(key);
    const std::string flag = std::string("--") + s.flag;
    if (!config.given_flags.contains(flag)) {
      try {
        s.set(config, saved);
      } catch (const Error& e) {
        r.fail(key, "a malformed setting: " + e.message());
      }
      continue;
    }
    const std::string given = s.get(config);
    if (given == saved) continue;
    if (flag == "--epochs") {
      if (config.schedule != "constant") {
        notes.push_back("--epochs " + given + " differs from the checkpoint's " + saved + ": the " + config.schedule +
                        " schedule now spans the new length, so this run is not the one an uninterrupted run with "
                        "either length would be");
      }
    } else if (flag == "--threads") {
      notes.push_back("--threads " + given + " differs from the checkpoint's " + saved +
                      ": sums may be split differently, so results can differ in the last bits from an "
                      "uninterrupted run");
    } else if (!s.changeable) {
      conflicts += "\n  " + flag + ": the checkpoint's run used '" + saved + "', this run was given '" + given + "'";
    }
  }
  GRAFT_CHECK(conflicts.empty(), "--resume ", file, ": settings differ from the checkpoint's:", conflicts,
              "\n  help: leave those flags out to continue with the checkpoint's settings (only --epochs, --threads, "
              "--max-steps, --checkpoint-every, --log-every, --eager, --run-dir and --data-dir may change on resume)");
  return notes;
}

std::string checkpoint_file_of(const std::string& resume) {
  std::error_code ec;
  if (std::filesystem::is_directory(resume, ec)) return (std::filesystem::path(resume) / kCheckpointName).string();
  return resume;
}

}  // namespace graft::cli
