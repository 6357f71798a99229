#!/usr/bin/env bash
# The `graft` command as a user meets it: bad flags, impossible growth plans
# and missing data fail before training with a clear message and a non-zero
# exit; a short run trains, grows and writes its run folder; a run stopped
# and resumed ends bit-identical to one that ran through; `graft inspect`
# lists and diffs checkpoints; bad checkpoints are clear errors.
#   cli_test.sh PATH/TO/graft
set -u
source "$(dirname "$0")/testlib.sh"  # sets $graft and $tmp, and runs in $tmp

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
# A value out of range said "Value 0 not in range 0.000000 to 1797693134862315708145..." (DBL_MAX in
# 309 digits) and exited 105; bad usage exits 2, as main.cc promises, and says what is expected.
out=$("$graft" train --epochs 0 2>&1); status=$?
check out-of-range-flag-says-what-is-expected '[ "$status" -eq 2 ] && grep -qF -- "--epochs: expected a number > 0, got 0" <<<"$out" && ! grep -q 1797693 <<<"$out"'
out=$("$graft" train --threads -2 2>&1); status=$?
check negative-flag-exits-2 '[ "$status" -eq 2 ] && grep -qF -- "--threads: expected a number >= 0, got -2" <<<"$out"'
out=$("$graft" train --bogus 2>&1); status=$?
check unknown-flag-exits-2 '[ "$status" -eq 2 ]'

# A short run: 3000 examples, two epochs, a growth event between them.
out=$("$graft" train --limit 3000 --epochs 2 --batch-size 100 --hidden 32 --grow widen:48@1 \
      --run-dir "$tmp/run" --log-every 10 --no-progress 2>&1)
status=$?
check short-run-exits-0 '[ "$status" -eq 0 ]'
check short-run-last-line '[[ "$(tail -n 1 <<<"$out")" =~ ^test_accuracy=0\.[0-9]{4}$ ]]'
check short-run-grew 'grep -q "growth at step 30 (widen:48@1): widen of .mlp/layer_0. to 48 units; parameters 25450 -> 38170" <<<"$out"'
check short-run-recaptured 'grep -q "capture 2 (call 31): store .mlp. epoch" <<<"$out"'
check short-run-metrics 'grep -q "\"kind\":\"growth\",\"step\":30" "$tmp/run/metrics.jsonl" && [ "$(grep -c "\"kind\":\"epoch\"" "$tmp/run/metrics.jsonl")" -eq 2 ]'
check short-run-curves 'grep -q "<polyline" "$tmp/run/curves.svg" && grep -q "stroke-dasharray" "$tmp/run/curves.svg"'


# Resume: 2 epochs in one go vs. 1 epoch (--max-steps 20), then --resume for
# the rest; the run grows after epoch 1, so the resumed run must rebuild the
# grown model. The final checkpoints hold the same bytes for every tensor.
flags=(--limit 2000 --epochs 2 --batch-size 100 --hidden 32 --grow widen:48@1 --threads 2 --no-progress --log-every 7)
out=$("$graft" train "${flags[@]}" --run-dir "$tmp/whole" 2>&1); status=$?
whole_acc=$(tail -n 1 <<<"$out")
check whole-run-exits-0 '[ "$status" -eq 0 ] && [ -f "$tmp/whole/checkpoint.safetensors" ]'
out=$("$graft" train "${flags[@]}" --run-dir "$tmp/split" --max-steps 20 --checkpoint-every 7 2>&1); status=$?
check stopped-run-says-how-to-resume '[ "$status" -eq 0 ] && grep -q "stopped at step 20 of 40 (--max-steps); checkpoint .*split/checkpoint.safetensors; continue with: graft train --resume" <<<"$out"'
check stopped-run-grew-before-its-checkpoint 'grep -q "growth at step 20 (widen:48@1)" <<<"$out"'
out=$("$graft" train --resume "$tmp/split" --no-progress 2>&1); status=$?
check resumed-run-exits-0 '[ "$status" -eq 0 ]'
check resumed-run-reports-restore 'grep -q "resumed from .*split/checkpoint.safetensors at step 20 (epoch 2, batch 0): 5 tensors restored by name, 12 optimizer slots restored when the first step creates them" <<<"$out"'
check resumed-run-same-accuracy '[ "$(tail -n 1 <<<"$out")" = "$whole_acc" ] && [ "$(grep -c "^epoch [0-9]/2:" <<<"$out")" -eq 1 ]'
if command -v python3 >/dev/null; then
  compare='import json, struct, sys
def tensors(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); h.pop("__metadata__")
    return {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
sys.exit(0 if a == b and len(a) == 17 else 1)'
  check resumed-run-bit-identical 'python3 -c "$compare" "$tmp/whole/checkpoint.safetensors" "$tmp/split/checkpoint.safetensors"'
fi
expect_failure resume-conflicting-flag "--lr: the checkpoint's run used '0.001', this run was given '0.5'" \
  train --resume "$tmp/split" --lr 0.5 --epochs 3
expect_failure resume-finished-run "nothing is left to do" train --resume "$tmp/split"

# inspect: keys, dtypes, shapes, parameter counts, metadata; --diff.
out=$("$graft" inspect "$tmp/whole/checkpoint.safetensors" 2>&1); status=$?
check inspect-lists '[ "$status" -eq 0 ] && grep -q "mlp/layer_0/kernel  *F32  *\[784, 48\]  *37632" <<<"$out" && grep -q "  mlp: 38170 in 4 tensors" <<<"$out" && grep -q "train.step = 40" <<<"$out" && grep -q "format version 1" <<<"$out"'
out=$("$graft" inspect --diff "$tmp/whole/checkpoint.safetensors" "$tmp/split/checkpoint.safetensors" 2>&1); status=$?
check inspect-diff-same '[ "$status" -eq 0 ] && grep -q ": 17 matched$" <<<"$out"'
"$graft" train --limit 2000 --epochs 1 --batch-size 100 --hidden 32 --grow "" --threads 2 --no-progress \
  --run-dir "$tmp/small" >/dev/null 2>&1
out=$("$graft" inspect --diff "$tmp/small/checkpoint.safetensors" "$tmp/whole/checkpoint.safetensors" 2>&1); status=$?
check inspect-diff-mismatch '[ "$status" -eq 1 ] && grep -q "shape mismatch: .mlp/layer_0/kernel.: file \[784, 32\], target \[784, 48\]" <<<"$out"'

# Bad checkpoints are clear errors, never crashes.
head -c 300 "$tmp/whole/checkpoint.safetensors" >"$tmp/truncated.safetensors"
expect_failure resume-truncated "truncated.safetensors" train --resume "$tmp/truncated.safetensors"
expect_failure inspect-truncated "truncated.safetensors" inspect "$tmp/truncated.safetensors"
printf 'garbage that is no safetensors file' >"$tmp/garbage.safetensors"
expect_failure inspect-garbage "garbage.safetensors" inspect "$tmp/garbage.safetensors"
mkdir -p "$tmp/plain" && cp "$tmp/whole/checkpoint.safetensors" "$tmp/plain/x.safetensors"
python3 - "$tmp/plain/x.safetensors" <<'PY' 2>/dev/null
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); h.pop("__metadata__")
head = json.dumps(h).encode(); head += b" " * (-len(head) % 8)
open(sys.argv[1], "wb").write(struct.pack("<Q", len(head)) + head + b[8 + n:])
PY
expect_failure resume-not-a-train-checkpoint "not a graft train checkpoint" train --resume "$tmp/plain/x.safetensors"

# A run killed at an arbitrary moment (while saving a checkpoint every step)
# leaves a checkpoint that loads and resumes.
"$graft" train --limit 2000 --epochs 3 --batch-size 50 --hidden 32 --grow "" --threads 2 --no-progress \
  --checkpoint-every 1 --run-dir "$tmp/killed" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do [ -f "$tmp/killed/checkpoint.safetensors" ] && break; sleep 0.1; done
sleep 0.3
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
out=$("$graft" inspect "$tmp/killed/checkpoint.safetensors" 2>&1); status=$?
check killed-run-checkpoint-loads '[ "$status" -eq 0 ]'
out=$("$graft" train --resume "$tmp/killed" --no-progress 2>&1); status=$?
check killed-run-resumes '[ "$status" -eq 0 ] || grep -q "nothing is left to do" <<<"$out"'

finish_tests
