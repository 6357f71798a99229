// The `graft` command.
//
//   graft train [--hidden 128] [--grow widen:256@2,deepen@5] [--epochs 12] ...
//   graft train --help
//
// Only this program catches every graft::Error: it prints the message and
// exits with status 1 (2 for bad flags, from CLI11).
#include <iostream>

#include <CLI/CLI.hpp>

#include "graft/base/error.h"
#include "graft/cli/train.h"

int main(int argc, char** argv) {
  CLI::App app{"graft: deep learning for models that change while they train"};
  app.require_subcommand(1);

  graft::cli::TrainConfig config;
  std::string hidden = "128";
  CLI::App* train = app.add_subcommand("train", "Train an MLP on Fashion-MNIST that grows while it trains");
  train->add_option("--hidden", hidden, "Hidden layer widths at the start, comma-separated")->capture_default_str();
  train->add_option("--grow", config.grow,
                    "Growth plan: ACTION[:ARGS]@WHEN,... with deepen[:LAYER], widen:UNITS[:LAYER], "
                    "prune:UNITS[:LAYER]; WHEN is an epoch or s<step> ('' for none)")
      ->capture_default_str();
  train->add_option("--epochs", config.epochs, "Epochs")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--batch-size", config.batch_size, "Examples per step")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--optimizer", config.optimizer, "adam, adamw, sgd or momentum")
      ->capture_default_str()
      ->check(CLI::IsMember({"adam", "adamw", "sgd", "momentum"}));
  train->add_option("--lr", config.learning_rate, "Peak learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--schedule", config.schedule, "constant, cosine or step")
      ->capture_default_str()
      ->check(CLI::IsMember({"constant", "cosine", "step"}));
  train->add_option("--warmup", config.warmup_steps, "Linear warm-up steps")->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--weight-decay", config.weight_decay, "Weight decay")->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--clip-norm", config.clip_norm, "Clip gradients to this global norm (0: off)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  train->add_option("--widen-noise", config.widen_noise, "Noise added to widened units (breaks symmetry)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  train->add_option("--seed", config.seed, "Seed for weights and data order")->capture_default_str();
  train->add_option("--threads", config.threads, "Threads (0: every core)")->capture_default_str()->check(CLI::NonNegativeNumber);
  train->add_option("--data-dir", config.data_dir, "Folder with the Fashion-MNIST idx.gz files")->capture_default_str();
  train->add_option("--run-dir", config.run_dir, "Folder for metrics.jsonl and curves.svg")->capture_default_str();
  train->add_option("--log-every", config.log_every, "Steps per metrics record")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--limit", config.limit, "Train on the first N examples only (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  bool eager = false;
  train->add_flag("--eager", eager, "Run the training step eagerly instead of as a graft::function");
  bool no_progress = false;
  train->add_flag("--no-progress", no_progress, "Plain lines even on a terminal");

  CLI11_PARSE(app, argc, argv);
  try {
    if (train->parsed()) {
      config.hidden = graft::cli::parse_widths(hidden);
      config.compile = !eager;
      config.progress = !no_progress;
      graft::cli::run_training(config, std::cout);
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
