#!/usr/bin/env bash
# Installs what is missing, builds graft and runs the main job: `graft train`
# with its defaults, an MLP on Fashion-MNIST that starts with one hidden layer
# and grows twice while it trains (widen, then deepen), each growth preserving
# what the network computes. The run folder (metrics.jsonl, curves.svg) is
# runs/demo, and each demo starts it over (--overwrite) unless it is asked to
# --resume. Extra arguments go to `graft train` (try --help).
#
# The examples of docs/seed-examples.md run with the tests; see examples/.
source "$(dirname "$0")/common.sh"
install_missing "${GRAFT_PACKAGES[@]}"
build "$GRAFT_ROOT/build" -DCMAKE_BUILD_TYPE=Release
start_over=(--overwrite)
for arg in "$@"; do
  case "$arg" in --resume|--resume=*) start_over=() ;; esac
done
"$GRAFT_ROOT/build/bin/graft" train --run-dir "$GRAFT_ROOT/runs/demo" "${start_over[@]}" "$@"
