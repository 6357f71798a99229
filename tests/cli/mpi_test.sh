#!/usr/bin/env bash
# `graft train` under mpirun: two ranks train, grow and finish with one
# test_accuracy line; ranks started with different --hidden or --grow
# (MPMD) all stop with the first differing variable path, ranks started with
# other settings (--lr, --max-steps) with the first differing flag, never a
# hang; a two-rank run stopped early resumes on one rank; the CNN's BatchNorm
# statistics (each rank's follow its own shard) are averaged, so every rank
# evaluates the same model.
#   mpi_test.sh PATH/TO/graft MPIEXEC NUMPROC_FLAG [LAUNCHER_FLAGS...]
set -u
graft="$1"
mpiexec="$2"
np="$3"
shift 3
flags=("$@")
tmp=$(mktemp -d /tmp/graft_mpi_cli_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL $1"; shift; printf '%s\n' "$@" | tail -20; failures=$((failures + 1)); }

common=(--epochs 2 --limit 1024 --batch-size 64 --threads 1 --no-progress --log-every 8 --schedule constant)

# Two ranks, a widen after epoch 1, a deepen at step 20.
out=$(timeout 120 "$mpiexec" "$np" 2 "${flags[@]}" "$graft" train --hidden 32 --grow widen:48@1,deepen@s20 \
  "${common[@]}" --run-dir "$tmp/two" 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
  fail "two-ranks: exit $status" "$out"
elif [ "$(grep -c '^test_accuracy=' <<<"$out")" -ne 1 ]; then
  fail "two-ranks: expected one test_accuracy line (rank 0 logs alone)" "$out"
elif ! grep -q "2 ranks" <<<"$out"; then
  fail "two-ranks: the header does not say it runs on 2 ranks" "$out"
elif [ "$(grep -c '^growth at step' <<<"$out")" -ne 2 ]; then
  fail "two-ranks: expected two growth lines" "$out"
else
  echo "ok   two-ranks"
fi

# expect_mismatch NAME EXPECTED RANK0_ARGS -- RANK1_ARGS
expect_mismatch() {
  local name="$1" want="$2"
  shift 2
  local a=() b=()
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  local out status
  out=$(timeout 60 "$mpiexec" "${flags[@]}" "$np" 1 "$graft" train "${a[@]}" "${common[@]}" --run-dir "$tmp/$name" \
    : "$np" 1 "$graft" train "${b[@]}" "${common[@]}" --run-dir "$tmp/$name" 2>&1)
  status=$?
  if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
    fail "$name: exit $status, expected a non-zero exit without a hang" "$out"
  elif [ "$(grep -cF -- "$want" <<<"$out")" -ne 2 ]; then
    fail "$name: expected '$want' from both ranks" "$out"
  else
    echo "ok   $name"
  fi
}
expect_mismatch mpmd-hidden "first difference at 'mlp/layer_0/bias'" --hidden 32 --grow '' \
  -- --hidden 40 --grow ''
expect_mismatch mpmd-grow "hold different models at growth event 1" --hidden 32 --grow widen:48@1 \
  -- --hidden 32 --grow widen:56@1
# Settings the structure cannot see: another learning rate would train apart
# silently, another --max-steps would leave a rank waiting in a collective.
expect_mismatch mpmd-lr "first difference at '--lr'" --hidden 32 --grow '' --lr 0.001 \
  -- --hidden 32 --grow '' --lr 0.01
expect_mismatch mpmd-max-steps "first difference at '--max-steps'" --hidden 32 --grow '' --max-steps 4 \
  -- --hidden 32 --grow '' --max-steps 8

# Stopped on two ranks, resumed on one.
timeout 120 "$mpiexec" "$np" 2 "${flags[@]}" "$graft" train --hidden 32 --grow widen:48@1 "${common[@]}" \
  --run-dir "$tmp/stop" --max-steps 20 >"$tmp/stop.log" 2>&1 || fail "stop: the first half failed" "$(cat "$tmp/stop.log")"
out=$(timeout 120 "$mpiexec" "$np" 1 "${flags[@]}" "$graft" train --resume "$tmp/stop" --threads 1 --no-progress 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
  fail "resume-on-one-rank: exit $status" "$out"
elif ! grep -q "at step 20" <<<"$out" || ! grep -q '^test_accuracy=' <<<"$out"; then
  fail "resume-on-one-rank: did not continue from step 20 to the end" "$out"
else
  echo "ok   resume-on-one-rank"
fi

# The CNN on two ranks: rank 1 logs to rank_1/, and its per-epoch test loss
# is rank 0's only if both evaluated with the same BatchNorm statistics.
out=$(timeout 120 "$mpiexec" "$np" 2 "${flags[@]}" "$graft" train --model cnn --channels 4 --hidden 16 --grow '' --epochs 2 \
  --limit 512 --batch-size 64 --threads 1 --no-progress --log-every 4 --run-dir "$tmp/cnn" 2>&1)
status=$?
test_losses() { grep -o '"test_loss":[^,]*' "$1/metrics.jsonl" | tr '\n' ' '; }
if [ "$status" -ne 0 ]; then
  fail "cnn-statistics: exit $status" "$out"
elif [ "$(test_losses "$tmp/cnn" | wc -w)" -ne 2 ] || [ "$(test_losses "$tmp/cnn")" != "$(test_losses "$tmp/cnn/rank_1")" ]; then
  fail "cnn-statistics: the ranks evaluated different models" "rank 0: $(test_losses "$tmp/cnn")" \
    "rank 1: $(test_losses "$tmp/cnn/rank_1")"
else
  echo "ok   cnn-statistics"
fi

[ "$failures" -eq 0 ] || { echo "$failures failed"; exit 1; }
echo "all passed"
