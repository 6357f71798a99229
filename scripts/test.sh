#!/usr/bin/env bash
# Installs what is missing, builds graft and runs every test with CTest.
#   ./scripts/test.sh             optimised build in build/
#   ./scripts/test.sh --sanitize  AddressSanitizer + UBSan build in build/sanitize/
source "$(dirname "$0")/common.sh"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,4p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

install_missing "${GRAFT_PACKAGES[@]}"
if [ "$sanitize" = 1 ]; then
  dir="$GRAFT_ROOT/build/sanitize"
  build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAFT_SANITIZE=ON -DGRAFT_BUILD_BENCHMARKS=OFF
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
else
  dir="$GRAFT_ROOT/build"
  build "$dir" -DCMAKE_BUILD_TYPE=Release
fi
cd "$dir"
ctest --output-on-failure -j "$GRAFT_JOBS" --timeout 600
