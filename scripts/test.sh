#!/usr/bin/env bash
# Installs what is missing, builds graft and runs every test with CTest.
#   ./scripts/test.sh             optimised build in build/
#   ./scripts/test.sh --sanitize  AddressSanitizer + UBSan build in build/sanitize/
#   ./scripts/test.sh --tsan      ThreadSanitizer build in build/tsan/ (races in OpenBLAS's own,
#                                 uninstrumented threads suppressed: tools/tsan.supp)
source "$(dirname "$0")/common.sh"

sanitize=0
tsan=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --tsan) tsan=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (expected --sanitize or --tsan)" >&2; exit 2 ;;
  esac
done

install_missing "${GRAFT_PACKAGES[@]}"
if [ "$sanitize" = 1 ]; then
  dir="$GRAFT_ROOT/build/sanitize"
  build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAFT_SANITIZE=ON -DGRAFT_BUILD_BENCHMARKS=OFF
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
elif [ "$tsan" = 1 ]; then
  dir="$GRAFT_ROOT/build/tsan"
  build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAFT_TSAN=ON -DGRAFT_BUILD_BENCHMARKS=OFF
  # A report makes the process exit 66, so the test fails.
  export TSAN_OPTIONS="suppressions=$GRAFT_ROOT/tools/tsan.supp:second_deadlock_stack=1:exitcode=66"
else
  dir="$GRAFT_ROOT/build"
  build "$dir" -DCMAKE_BUILD_TYPE=Release
fi
cd "$dir"
ctest --output-on-failure -j "$GRAFT_JOBS" --timeout 600
