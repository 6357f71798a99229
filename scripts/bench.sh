#!/usr/bin/env bash
# Builds graft and the side-by-side LibTorch benchmark in build/bench and runs
# it: one line per workload and thread count,
#   bench <workload> threads=<n> graft=<v> libtorch=<v> unit=<u> speedup=<x>
# where speedup is how many times faster graft is. See BENCHMARKS.md.
#   ./scripts/bench.sh                       every workload
#   ./scripts/bench.sh --only mlp16_b8       one workload
#   ./scripts/bench.sh --reps 11 --min-ms 100  more, longer repetitions
source "$(dirname "$0")/common.sh"

for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
  esac
done

install_missing "${GRAFT_PACKAGES[@]}" libtorch-dev
dir="$GRAFT_ROOT/build/bench"
build "$dir" -DCMAKE_BUILD_TYPE=Release -DGRAFT_BUILD_TESTS=OFF -DGRAFT_BUILD_BENCHMARKS=ON \
  -DGRAFT_BUILD_TORCH_BENCH=ON >/dev/null
# No thread variables: graft must use the cores well on its own, and the
# program sets LibTorch's best thread split itself.
unset GRAFT_NUM_THREADS OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS
"$dir/bin/graft_torch_compare" "$@"
