#!/usr/bin/env bash
# Builds graft and the side-by-side LibTorch benchmark in build/bench and runs
# it: one line per workload and thread count,
#   bench <workload> threads=<n> graft=<v> libtorch=<v> unit=<u> speedup=<x>
# where speedup is how many times faster graft is. See BENCHMARKS.md.
#   ./scripts/bench.sh                       every workload
#   ./scripts/bench.sh --only mlp16_b8       one workload
#   ./scripts/bench.sh --reps 11 --min-ms 100  more, longer repetitions
#   ./scripts/bench.sh --dist                data parallel over MPI (bench/dist_bench.cc)
source "$(dirname "$0")/common.sh"

for arg in "$@"; do
  case "$arg" in
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
  esac
done

if [ "${1:-}" = "--dist" ]; then
  # The optimised build of test.sh; 2 ranks x 1 thread, then 1 rank x 2 and x 1.
  install_missing "${GRAFT_PACKAGES[@]}"
  build "$GRAFT_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  mpi=(mpirun --oversubscribe)
  [ "$(id -u)" -eq 0 ] && mpi+=(--allow-run-as-root)
  bin="$GRAFT_ROOT/build/bin/graft_dist_bench"
  "${mpi[@]}" -n 2 "$bin" --threads 1
  # mpirun binds a rank to one core; one rank with two threads needs both.
  "${mpi[@]}" --bind-to none -n 1 "$bin" --only dp_fmnist --threads 2
  "${mpi[@]}" -n 1 "$bin" --only dp_fmnist --threads 1
  exit 0
fi

install_missing "${GRAFT_PACKAGES[@]}" libtorch-dev
dir="$GRAFT_ROOT/build/bench"
build "$dir" -DCMAKE_BUILD_TYPE=Release -DGRAFT_BUILD_TESTS=OFF -DGRAFT_BUILD_BENCHMARKS=ON \
  -DGRAFT_BUILD_TORCH_BENCH=ON >/dev/null
# No thread variables: graft must use the cores well on its own, and the
# program sets LibTorch's best thread split itself.
unset GRAFT_NUM_THREADS OMP_NUM_THREADS OPENBLAS_NUM_THREADS MKL_NUM_THREADS
"$dir/bin/graft_torch_compare" "$@"
