#!/usr/bin/env bash
# Installs what is missing, builds graft and runs the main job: `graft train`
# with its defaults, an MLP on Fashion-MNIST that starts with one hidden layer
# and grows twice while it trains (widen, then deepen), each growth preserving
# what the network computes. The run folder (metrics.jsonl, curves.svg) is
# runs/demo. Extra arguments go to `graft train` (try --help).
#
# The seed document's examples run with the tests; see examples/.
source "$(dirname "$0")/common.sh"
install_missing "${GRAFT_PACKAGES[@]}"
build "$GRAFT_ROOT/build" -DCMAKE_BUILD_TYPE=Release
"$GRAFT_ROOT/build/bin/graft" train --run-dir "$GRAFT_ROOT/runs/demo" "$@"
