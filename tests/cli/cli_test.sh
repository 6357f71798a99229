#!/usr/bin/env bash
# The `graft` command as a user meets it: bad flags, impossible growth plans
# and missing data fail before training with a clear message and a non-zero
# exit; a short run trains, grows and writes its run folder.
#   cli_test.sh PATH/TO/graft
set -u
graft="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_failure NAME EXPECTED_SUBSTRING ARGS...
expect_failure() {
  local name="$1" want="$2"
  shift 2
  local out status
  out=$("$graft" "$@" 2>&1)
  status=$?
  if [ "$status" -eq 0 ]; then
    echo "FAIL $name: exit 0, expected non-zero"; failures=$((failures + 1)); return
  fi
  if ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: output lacks '$want':"; echo "$out" | head -5; failures=$((failures + 1)); return
  fi
  if grep -q "^epoch 1" <<<"$out"; then
    echo "FAIL $name: training started before the error"; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

expect_failure no-subcommand "A subcommand is required"
expect_failure unknown-flag "--bogus" train --bogus
expect_failure zero-epochs "--epochs" train --epochs 0
expect_failure bad-optimizer "--optimizer" train --optimizer rmsprop
expect_failure bad-hidden "--hidden expects positive widths" train --hidden 128,x
expect_failure bad-grammar "unknown action 'grow'" train --grow grow:3@1 --run-dir "$tmp/r0"
expect_failure missing-layer "hidden layer 3 does not exist" train --grow widen:256:3@1 --run-dir "$tmp/r1"
expect_failure narrower-widen "widen needs more units" train --hidden 128 --grow widen:64@1 --run-dir "$tmp/r2"
expect_failure too-late "but the run has 2 epochs" train --epochs 2 --grow deepen@2 --run-dir "$tmp/r3"
expect_failure missing-data "install Debian's dataset-fashion-mnist package" train --data-dir "$tmp/nowhere"
expect_failure missing-data-names-file "$tmp/nowhere" train --data-dir "$tmp/nowhere"

# A short run: 3000 examples, two epochs, a growth event between them.
out=$("$graft" train --limit 3000 --epochs 2 --batch-size 100 --hidden 32 --grow widen:48@1 \
      --run-dir "$tmp/run" --log-every 10 --no-progress 2>&1)
status=$?
check() {
  if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; echo "$out" | tail -20; failures=$((failures + 1)); fi
}
check short-run-exits-0 '[ "$status" -eq 0 ]'
check short-run-last-line '[[ "$(tail -n 1 <<<"$out")" =~ ^test_accuracy=0\.[0-9]{4}$ ]]'
check short-run-grew 'grep -q "growth at step 30 (widen:48@1): widen of .mlp/layer_0. to 48 units; parameters 25450 -> 38170" <<<"$out"'
check short-run-recaptured 'grep -q "capture 2 (call 31): store .mlp. epoch" <<<"$out"'
check short-run-metrics 'grep -q "\"kind\":\"growth\",\"step\":30" "$tmp/run/metrics.jsonl" && [ "$(grep -c "\"kind\":\"epoch\"" "$tmp/run/metrics.jsonl")" -eq 2 ]'
check short-run-curves 'grep -q "<polyline" "$tmp/run/curves.svg" && grep -q "stroke-dasharray" "$tmp/run/curves.svg"'

passed=$(( 17 - failures ))
echo "$passed passed, $failures failed"
[ "$failures" -eq 0 ]
