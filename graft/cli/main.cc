// The `graft` command.
//
//   graft train [--hidden 256] [--grow widen:512@3,deepen@7] [--epochs 15] ...
//   graft train --checkpoint-every 500 --run-dir runs/a    (and a checkpoint at the end)
//   graft train --resume runs/a                             (continues exactly)
//   graft inspect runs/a/checkpoint.safetensors             (keys, dtypes, shapes, metadata)
//   graft inspect --diff OLD.safetensors NEW.safetensors    (restore report of OLD onto NEW)
//   graft train --help
//
// Only this program catches every graft::Error: it prints the message and
// exits with status 1 (2 for bad flags, from CLI11). A training run ended by
// SIGINT, SIGTERM or SIGHUP saves its checkpoint and exits 128 + the signal's
// number, as shells expect of a process a signal ended. `inspect --diff` exits
// 0 when every key matches and 1 otherwise, as diff(1) does.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <iostream>

#include <CLI/CLI.hpp>

#include "graft/base/error.h"
#include "graft/base/warning.h"
#include "graft/cli/train.h"
#include "graft/io/checkpoint.h"

namespace {

// The library's warnings (graft/base/warning.h) are this program's to print,
// in the style of its errors.
class StderrWarnings : public graft::WarningHandler {
 public:
  void on_warning(const graft::Warning& w) override { std::cerr << "warning: " << w.message << "\n"; }
};

// A check that the flag's value is a number > 0 (or >= 0 when `inclusive`).
// CLI11's PositiveNumber and NonNegativeNumber wrote their limit as DBL_MAX
// in 309 digits and called 0 out of "range 0.000000 to 17976931348623...";
// this says what is expected and what was given. Text that is no number at
// all passes here and fails conversion ("Could not convert"); NaN passes
// here and fails TrainConfig's checks.
CLI::Validator above_zero(bool inclusive, std::string name) {
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return {};
        // NaN passes to train's own check, which says "must be a finite number".
        if (std::isnan(v) || (inclusive ? v >= 0 : v > 0)) return {};
        return std::string("expected a number ") + (inclusive ? ">= 0" : "> 0") + ", got " + text;
      },
      std::move(name));
}

const CLI::Validator kPositive = above_zero(false, "POSITIVE");
const CLI::Validator kNonNegative = above_zero(true, "NONNEGATIVE");

}  // namespace

int main(int argc, char** argv) {
  StderrWarnings warnings;
  graft::ScopedWarningHandler route_warnings(&warnings);
  CLI::App app{"graft: deep learning for models that change while they train"};
  app.require_subcommand(1);

  graft::cli::TrainConfig config;
  std::string hidden = "256";
  CLI::App* train = app.add_subcommand("train", "Train an MLP or a CNN on Fashion-MNIST that grows while it trains");
  train->add_option("--model", config.model,
                    "mlp (Linear layers of --hidden) or cnn (conv blocks of --channels, then --hidden Linear layers; "
                    "growth events edit the conv blocks)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mlp", "cnn"}));
  std::string channels = "16,32";
  train->add_option("--channels", channels, "cnn: conv block widths at the start, comma-separated")->capture_default_str();
  train->add_flag("--augment", config.augment, "Random 2-pixel shifts and horizontal flips of training images");
  train->add_option("--label-smoothing", config.label_smoothing, "Label smoothing in [0, 1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  train->add_option("--widen-init", config.widen_init, "New units of widen: duplicate (Net2Net) or zero_fanout")
      ->capture_default_str()
      ->check(CLI::IsMember({"duplicate", "zero_fanout"}));
  train->add_option("--hidden", hidden,
                    "Hidden layer widths at the start, comma-separated (each at most 16777216 units, at most 1024 "
                    "layers, at most 2^30 parameters in all, also after growth)")
      ->capture_default_str();
  train->add_option("--grow", config.grow,
                    "Growth plan: ACTION[:ARGS]@WHEN,... with deepen[:LAYER], widen:UNITS[:LAYER], "
                    "prune:UNITS[:LAYER]; WHEN is an epoch or s<step> ('' for none)")
      ->capture_default_str();
  train->add_option("--epochs", config.epochs, "Epochs (at most 1000000)")->capture_default_str()->check(kPositive);
  train->add_option("--batch-size", config.batch_size, "Examples per step")->capture_default_str()->check(kPositive);
  train->add_option("--optimizer", config.optimizer, "adam, adamw, sgd or momentum")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "adamw", "sgd", "momentum"}));
  train->add_option("--lr", config.learning_rate, "Peak learning rate")->capture_default_str()->check(kPositive);
  train->add_option("--schedule", config.schedule, "constant, cosine or step")
      ->capture_default_str()
      ->check(CLI::IsMember({"constant", "cosine", "step"}));
  train->add_option("--warmup", config.warmup_steps, "Linear warm-up steps")->capture_default_str()->check(kNonNegative);
  train->add_option("--weight-decay", config.weight_decay, "Weight decay")->capture_default_str()->check(kNonNegative);
  train->add_option("--clip-norm", config.clip_norm, "Clip gradients to this global norm (0: off)")
      ->capture_default_str()
      ->check(kNonNegative);
  train->add_option("--widen-noise", config.widen_noise, "Noise added to widened units (breaks symmetry)")
      ->capture_default_str()
      ->check(kNonNegative);
  train->add_option("--seed", config.seed, "Seed for weights and data order")->capture_default_str();
  train->add_option("--threads", config.threads, "Threads (0: every core; at most 256)")
      ->capture_default_str()
      ->check(kNonNegative);
  train->add_option("--data-dir", config.data_dir, "Folder with the Fashion-MNIST idx.gz files")->capture_default_str();
  train->add_option("--run-dir", config.run_dir,
                    "Folder for metrics.jsonl, curves.svg and checkpoint.safetensors; a fresh run refuses a folder "
                    "that already holds a run (see --overwrite, --resume)")
      ->capture_default_str();
  train->add_flag("--overwrite", config.overwrite,
                  "Replace the run in --run-dir: its metrics.jsonl, curves.svg and checkpoint are deleted when the "
                  "new run starts");
  train->add_option("--log-every", config.log_every, "Steps per metrics record")->capture_default_str()->check(kPositive);
  train->add_option("--limit", config.limit, "Train on the first N examples only (0: all)")
      ->capture_default_str()
      ->check(kNonNegative);
  bool eager = false;
  train->add_flag("--eager", eager, "Run the training step eagerly instead of as a graft::function");
  bool no_progress = false;
  train->add_flag("--no-progress", no_progress, "Plain lines even on a terminal");

  train->add_option("--checkpoint-every", config.checkpoint_every,
                    "Steps between checkpoints in the run folder (0: only at the end; one is always written then)")
      ->capture_default_str()
      ->check(kNonNegative);
  train->add_option("--resume", config.resume,
                    "Continue the run in this folder (or checkpoint file) exactly: settings not given come from it "
                    "(also --checkpoint-every, --max-steps unless reached, --data-dir, --eager); metrics.jsonl is cut "
                    "back to the checkpoint's step. Refuses a damaged checkpoint, naming the file and key")
      ->check(CLI::ExistingPath);
  train->add_flag("--allow-nonfinite", config.allow_nonfinite,
                  "Resume from a checkpoint holding NaN or Inf values, and train on when the loss is NaN or Inf "
                  "(otherwise the first is refused and the second stops the run without saving)");
  train->add_option("--max-steps", config.max_steps,
                    "Stop after this many steps in all, with a checkpoint, as an interruption would (0: every epoch)")
      ->capture_default_str()
      ->check(kNonNegative);

  CLI::App* inspect = app.add_subcommand(
      "inspect", "List a checkpoint's keys, dtypes, shapes, parameter counts and metadata, or diff two");
  std::vector<std::string> inspect_files;
  inspect->add_option("files", inspect_files, "FILE, or with --diff: FILE (saved) and OTHER (the model to restore into)")
      ->required()
      ->expected(1, 2);
  bool diff = false;
  inspect->add_flag("--diff", diff,
                    "Show the restore report of FILE onto OTHER's tensors (another checkpoint) without restoring; "
                    "exit 0 when all match, 1 otherwise");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // app.exit prints the message (or the help, exit code 0); CLI11's own
    // codes (105 for a value out of range, 109 for an unknown flag, ...) are
    // replaced by the 2 promised above, as getopt programs exit on bad usage.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (train->parsed()) {
      config.hidden = graft::cli::parse_widths(hidden);
      config.channels = graft::cli::parse_widths(channels, "--channels");
      config.compile = !eager;
      config.progress = !no_progress;
      for (const CLI::Option* option : train->get_options()) {
        if (option->count() > 0) config.given_flags.insert(option->get_name());
      }
      // A resumed run writes into the folder it resumes unless told otherwise.
      if (!config.resume.empty() && !config.given_flags.contains("--run-dir") &&
          std::filesystem::is_directory(config.resume)) {
        config.run_dir = config.resume;
      }
      graft::cli::TrainResult result = graft::cli::run_training(config, std::cout);
      if (result.signal != 0) return 128 + result.signal;
    }
    if (inspect->parsed()) {
      if (diff) {
        if (inspect_files.size() != 2) {
          std::cerr << "error: inspect --diff needs two files, FILE (saved) and OTHER (to restore into), got "
                    << inspect_files.size() << "\n";
          return 2;
        }
        graft::io::SafetensorsFile saved = graft::io::SafetensorsFile::read(inspect_files[0]);
        graft::io::SafetensorsFile other = graft::io::SafetensorsFile::read(inspect_files[1]);
        graft::io::RestoreReport report = graft::io::diff_safetensors(saved, other);
        std::cout << report.to_string();
        return report.all_matched() ? 0 : 1;
      }
      if (inspect_files.size() != 1) {
        std::cerr << "error: inspect lists one file; to compare two, pass --diff\n";
        return 2;
      }
      std::cout << graft::io::inspect_checkpoint(graft::io::SafetensorsFile::read(inspect_files[0]));
    }
  } catch (const graft::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
