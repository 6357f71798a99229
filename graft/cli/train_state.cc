#include "graft/cli/train_state.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>

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
      if (end == p || (i + 1 < count ? *end != ',' : *end != '\0')) {
        fail(key, "expected " + std::to_string(count) + " comma-separated number(s), found '" + s + "'");
      }
      p = end + 1;
    }
    return out;
  }
  int64_t integer(const std::string& key) const {
    const std::string& s = text(key);
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < 0) fail(key, "expected a non-negative integer, found '" + s + "'");
    return v;
  }
};

// One setting that shapes a run's trajectory.
struct Setting {
  const char* flag;
  std::function<std::string(const TrainConfig&)> get;
  std::function<void(TrainConfig&, const std::string&)> set;
};

const std::vector<Setting>& settings() {
  static const std::vector<Setting> all = {
      {"hidden", [](const TrainConfig& c) { return widths_text(c.hidden); },
       [](TrainConfig& c, const std::string& v) { c.hidden = parse_widths(v); }},
      {"optimizer", [](const TrainConfig& c) { return c.optimizer; }, [](TrainConfig& c, const std::string& v) { c.optimizer = v; }},
      {"lr", [](const TrainConfig& c) { return exact(c.learning_rate); },
       [](TrainConfig& c, const std::string& v) { c.learning_rate = std::strtod(v.c_str(), nullptr); }},
      {"schedule", [](const TrainConfig& c) { return c.schedule; }, [](TrainConfig& c, const std::string& v) { c.schedule = v; }},
      {"warmup", [](const TrainConfig& c) { return std::to_string(c.warmup_steps); },
       [](TrainConfig& c, const std::string& v) { c.warmup_steps = std::strtoll(v.c_str(), nullptr, 10); }},
      {"weight-decay", [](const TrainConfig& c) { return exact(c.weight_decay); },
       [](TrainConfig& c, const std::string& v) { c.weight_decay = std::strtod(v.c_str(), nullptr); }},
      {"clip-norm", [](const TrainConfig& c) { return exact(c.clip_norm); },
       [](TrainConfig& c, const std::string& v) { c.clip_norm = std::strtod(v.c_str(), nullptr); }},
      {"epochs", [](const TrainConfig& c) { return std::to_string(c.epochs); },
       [](TrainConfig& c, const std::string& v) { c.epochs = std::strtoll(v.c_str(), nullptr, 10); }},
      {"batch-size", [](const TrainConfig& c) { return std::to_string(c.batch_size); },
       [](TrainConfig& c, const std::string& v) { c.batch_size = std::strtoll(v.c_str(), nullptr, 10); }},
      {"seed", [](const TrainConfig& c) { return std::to_string(c.seed); },
       [](TrainConfig& c, const std::string& v) { c.seed = std::strtoull(v.c_str(), nullptr, 10); }},
      {"grow", [](const TrainConfig& c) { return c.grow; }, [](TrainConfig& c, const std::string& v) { c.grow = v; }},
      {"widen-noise", [](const TrainConfig& c) { return exact(c.widen_noise); },
       [](TrainConfig& c, const std::string& v) { c.widen_noise = std::strtod(v.c_str(), nullptr); }},
      {"limit", [](const TrainConfig& c) { return std::to_string(c.limit); },
       [](TrainConfig& c, const std::string& v) { c.limit = std::strtoll(v.c_str(), nullptr, 10); }},
      {"log-every", [](const TrainConfig& c) { return std::to_string(c.log_every); },
       [](TrainConfig& c, const std::string& v) { c.log_every = std::strtoll(v.c_str(), nullptr, 10); }},
      {"threads", [](const TrainConfig& c) { return std::to_string(c.threads); },
       [](TrainConfig& c, const std::string& v) { c.threads = static_cast<int>(std::strtol(v.c_str(), nullptr, 10)); }},
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
  if (pos[0] < 0 || pos[1] < 0) r.fail("train.batch_position", "a negative position");
  p.position = {static_cast<int64_t>(pos[0]), static_cast<int64_t>(pos[1])};
  p.growth_done = r.integer("train.growth_done");
  p.architecture = r.text("train.architecture");
  p.optimizer_iterations = r.integer("train.optimizer_iterations");
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
    const std::string saved = r.text(std::string("train.config.") + s.flag);
    const std::string flag = std::string("--") + s.flag;
    if (!config.given_flags.contains(flag)) {
      try {
        s.set(config, saved);
      } catch (const Error&) {
        r.fail(std::string("train.config.") + s.flag, "a malformed setting '" + saved + "'");
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
    } else if (flag == "--log-every") {
      // Only the metrics records change.
    } else if (flag == "--threads") {
      notes.push_back("--threads " + given + " differs from the checkpoint's " + saved +
                      ": sums may be split differently, so results can differ in the last bits from an "
                      "uninterrupted run");
    } else {
      conflicts += "\n  " + flag + ": the checkpoint's run used '" + saved + "', this run was given '" + given + "'";
    }
  }
  GRAFT_CHECK(conflicts.empty(), "--resume ", file, ": settings differ from the checkpoint's:", conflicts,
              "\n  help: leave those flags out to continue with the checkpoint's settings (only --epochs, --threads, "
              "--max-steps, --checkpoint-every, --log-every, --run-dir and --data-dir may change on resume)");
  return notes;
}

std::string checkpoint_file_of(const std::string& resume) {
  std::error_code ec;
  if (std::filesystem::is_directory(resume, ec)) return (std::filesystem::path(resume) / kCheckpointName).string();
  return resume;
}

}  // namespace graft::cli
