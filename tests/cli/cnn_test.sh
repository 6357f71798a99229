#!/usr/bin/env bash
# `graft train --model cnn`: bad CNN flags fail before training; a short CNN
# run with augmentation and label smoothing grows its conv blocks (zero-fanout
# widen, deepen) with the function preserved, and a run stopped and resumed
# ends bit-identical to one that ran through.
#   cnn_test.sh PATH/TO/graft
set -u
graft="$1"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
total=0
out=""

check() {
  total=$((total + 1))
  if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; echo "$out" | tail -20; failures=$((failures + 1)); fi
}
# fails NAME EXPECTED_SUBSTRING ARGS...: non-zero exit, the message, no training.
fails() {
  local name="$1" want="$2"
  shift 2
  out=$("$graft" "$@" 2>&1)
  local status=$?
  check "$name" '[ "$status" -ne 0 ] && grep -qF -- "$want" <<<"$out" && ! grep -q "^epoch 1" <<<"$out"'
}

fails bad-model "--model" train --model rnn
fails bad-channels "--channels expects positive widths" train --model cnn --channels 8,x
fails too-many-blocks "halve 28x28 images below one pixel" train --model cnn --channels 4,4,4,4,4,4 --run-dir "$tmp/r0"
fails bad-widen-init "--widen-init" train --widen-init copy
fails cnn-plan-names-conv-blocks "hidden layer 2 does not exist" train --model cnn --channels 4,8 --grow widen:16:2@1 --run-dir "$tmp/r1"

flags=(train --model cnn --channels 4,8 --hidden 16 --limit 600 --epochs 2 --batch-size 50 --augment
       --label-smoothing 0.1 --grow widen:8:0@1,deepen:1@1 --widen-init zero_fanout --threads 2 --no-progress --log-every 5)
out=$("$graft" "${flags[@]}" --run-dir "$tmp/whole" 2>&1); status=$?
whole_acc=$(tail -n 1 <<<"$out")
check cnn-run-exits-0 '[ "$status" -eq 0 ] && [[ "$whole_acc" =~ ^test_accuracy=0\.[0-9]{4}$ ]]'
check cnn-run-architecture 'grep -q "^model: conv 1 -> 4 -> 8, 392 -> 16 relu -> 10, " <<<"$out"'
check cnn-run-widens-exactly 'grep -q "widen of .cnn/layer_0. to 8 channels (zero_fanout); .*function preserved (max difference 0)" <<<"$out"'
check cnn-run-deepens-exactly 'grep -q "deepen after .cnn/layer_4. (identity Conv2d(8, 3x3) + BatchNorm + ReLU); .*function preserved" <<<"$out"'
check cnn-run-grown-model 'grep -q "final model conv 1 -> 8 -> 8 -> 8, 392 -> 16 relu -> 10" <<<"$out"'
check cnn-run-metrics '[ "$(grep -c "\"kind\":\"epoch\"" "$tmp/whole/metrics.jsonl")" -eq 2 ] && grep -q "<polyline" "$tmp/whole/curves.svg"'

out=$("$graft" "${flags[@]}" --run-dir "$tmp/split" --max-steps 15 2>&1); status=$?
check cnn-stopped-run '[ "$status" -eq 0 ] && grep -q "stopped at step 15 of 24" <<<"$out"'
out=$("$graft" train --resume "$tmp/split" --no-progress 2>&1); status=$?
check cnn-resumed-run-same-accuracy '[ "$status" -eq 0 ] && [ "$(tail -n 1 <<<"$out")" = "$whole_acc" ]'
if command -v python3 >/dev/null; then
  check cnn-resumed-run-bit-identical \
    'python3 "$here/same_tensors.py" "$tmp/whole/checkpoint.safetensors" "$tmp/split/checkpoint.safetensors"'
fi

echo "$((total - failures))/$total passed"
[ "$failures" -eq 0 ]
