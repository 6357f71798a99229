#!/usr/bin/env bash
# Fuzzes the safetensors reader with libFuzzer (clang, ASan + UBSan).
#
#   scripts/fuzz.sh [SECONDS]     # default 60
#
# Builds fuzz/safetensors_fuzz.cc with the base, tensor and io sources into
# build/fuzz/, seeds a scratch corpus from tests/io/corpus, and runs. Exits
# non-zero when libFuzzer finds a crash; the crashing input is copied to
# tests/io/corpus/crash-<hash>.safetensors so that corpus_test.cc checks it
# from then on (commit it with the fix).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SECONDS_TO_RUN="${1:-60}"
install_missing clang-14 libclang-rt-14-dev libopenblas-dev zlib1g-dev

OUT="$GRAFT_ROOT/build/fuzz"
mkdir -p "$OUT/corpus" "$OUT/artifacts"
CXX="${CXX_FUZZ:-clang++-14}"
BLAS_INCLUDE=/usr/include/x86_64-linux-gnu/openblas-pthread
[ -d "$BLAS_INCLUDE" ] || BLAS_INCLUDE=/usr/include/openblas

cd "$GRAFT_ROOT"
echo "graft: building build/fuzz/safetensors_fuzz with $CXX"
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -include fuzz/compat/source_location.h -I. -isystem "$BLAS_INCLUDE" \
  fuzz/safetensors_fuzz.cc graft/io/safetensors.cc graft/io/restore.cc graft/io/printable.cc graft/io/internal/*.cc \
  graft/tensor/*.cc graft/base/*.cc \
  -lopenblas -lz -lpthread -o "$OUT/safetensors_fuzz"

cp tests/io/corpus/* "$OUT/corpus/"
echo "graft: fuzzing the safetensors reader for ${SECONDS_TO_RUN}s"
status=0
"$OUT/safetensors_fuzz" "$OUT/corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$OUT/artifacts/" || status=$?

found=0
for artifact in "$OUT"/artifacts/*; do
  [ -f "$artifact" ] || continue
  name="crash-$(sha1sum "$artifact" | cut -c1-12).safetensors"
  cp "$artifact" "tests/io/corpus/$name"
  echo "graft: finding saved as tests/io/corpus/$name"
  rm "$artifact"
  found=1
done
if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
  echo "graft: fuzzing found a problem (libFuzzer status $status)" >&2
  exit 1
fi
echo "graft: no crash in ${SECONDS_TO_RUN}s"
