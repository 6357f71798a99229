#!/usr/bin/env bash
# Installs what is missing, builds graft and runs the seed document's examples:
# the raw-tape version, then the three examples ported to graft
# (../shared/seed/variable-singleton-errors.md).
# TODO(issue 3): a later issue replaces this with the training CLI.
source "$(dirname "$0")/common.sh"
install_missing "${GRAFT_PACKAGES[@]}"
build "$GRAFT_ROOT/build" -DCMAKE_BUILD_TYPE=Release
for example in seed_tape seed_example_1 seed_example_2 seed_example_3; do
  echo "=== $example"
  "$GRAFT_ROOT/build/bin/$example"
  echo
done
