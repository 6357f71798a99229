#include "graft/cli/train.h"

#include <cmath>
#include <cstdlib>

#include "graft/base/check.h"
#include "graft/cli/trainer.h"

namespace graft::cli {

void validate_config(const TrainConfig& c) {
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
  GRAFT_CHECK(c.checkpoint_every >= 0, "--checkpoint-every must be >= 0 (0: only at the end), got ",
              c.checkpoint_every);
  GRAFT_CHECK(c.max_steps >= 0, "--max-steps must be >= 0 (0: every epoch), got ", c.max_steps);
}

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

TrainResult run_training(const TrainConfig& config, std::ostream& out) {
  Trainer trainer(config, out);
  return trainer.run();
}

}  // namespace graft::cli
