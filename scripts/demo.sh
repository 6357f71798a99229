#!/usr/bin/env bash
# Installs what is missing, builds graft and runs the main job.
source "$(dirname "$0")/common.sh"
install_missing "${GRAFT_PACKAGES[@]}"
build "$GRAFT_ROOT/build" -DCMAKE_BUILD_TYPE=Release
"$GRAFT_ROOT/build/bin/seed_tape"
