#!/usr/bin/env bash
# graft train as a careless or hostile user meets it (issue 10): sizes and
# settings out of range, damaged checkpoints, run folders that already hold
# a run, metrics after a crash, a full disk, stale temporary files, signals.
# Every case fails with a message naming what is wrong (the flag, or the
# checkpoint file and key) before anything trains, or behaves as documented.
#   run_safety_test.sh PATH/TO/graft
set -u
source "$(dirname "$0")/testlib.sh"  # sets $graft and $tmp, and runs in $tmp

# Small copies of Fashion-MNIST (2000 training and 500 test examples; 2000
# and 100, fewer than the 256 the growth check probes) keep runs short.
data="$tmp/data"
tiny_test="$tmp/tiny_test"
make_data='import gzip, os, struct, sys
src, dst, tests = "/usr/share/datasets/fashion-mnist", sys.argv[1], int(sys.argv[2])
os.makedirs(dst)
for prefix, n in (("train", 2000), ("t10k", tests)):
    images = gzip.open(f"{src}/{prefix}-images-idx3-ubyte.gz").read()
    labels = gzip.open(f"{src}/{prefix}-labels-idx1-ubyte.gz").read()
    gzip.open(f"{dst}/{prefix}-images-idx3-ubyte.gz", "wb").write(struct.pack(">IIII", 0x803, n, 28, 28) + images[16:16 + n * 784])
    gzip.open(f"{dst}/{prefix}-labels-idx1-ubyte.gz", "wb").write(struct.pack(">II", 0x801, n) + labels[8:8 + n])'
python3 -c "$make_data" "$data" 500 && python3 -c "$make_data" "$tiny_test" 100
small=(--data-dir "$data" --batch-size 100 --threads 1 --no-progress)

# --- Flags out of range: refused before anything is built.
expect_failure hidden-beyond-int64 "--hidden widths must be at most 16777216" train --hidden 99999999999999999999
expect_failure hidden-int64-max "--hidden widths must be at most 16777216" train --hidden 9223372036854775807
expect_failure hidden-2-62 "--hidden widths must be at most 16777216" train --hidden 64,4611686018427387904
expect_failure hidden-too-many-parameters "parameters with --hidden 16000000, more than graft train's limit" \
  train "${small[@]}" --grow "" --hidden 16000000 --run-dir "$tmp/p0"
expect_failure widen-beyond-limit "widen to at most 16777216 units" train --grow widen:100000000000@1
expect_failure widen-too-many-parameters "after growth event 'widen:9000000@1', more than" \
  train --data-dir "$data" --batch-size 100 --hidden 16 --grow widen:9000000@1 --run-dir "$tmp/p1"
expect_failure threads-bounded "--threads must be between 0 and 256" train --threads 100000
expect_failure epochs-huge "--epochs must be between 1 and 1000000" train --epochs 9223372036854775807
expect_failure weight-decay-nan "--weight-decay must be a finite number >= 0, got nan" train --weight-decay nan
expect_failure widen-noise-nan "--widen-noise must be a finite number >= 0, got nan" train --widen-noise nan
expect_failure clip-norm-inf "--clip-norm" train --clip-norm inf
expect_failure warmup-negative "--warmup" train --warmup -5
expect_failure layer-negative "the layer index must be 0 or more, got -7" train --grow widen:300:-7@1
expect_failure layer-2-32 "hidden layer 4294967296 does not exist" train --grow widen:300:4294967296@1
expect_failure layer-2-31 "hidden layer 2147483648 does not exist" train --grow deepen:2147483648@1

# A test set smaller than the growth probe is no reason to fail.
out=$("$graft" train --data-dir "$tiny_test" --batch-size 100 --threads 1 --no-progress --hidden 16 --epochs 2 --grow widen:24@1 --run-dir "$tmp/tiny" 2>&1)
status=$?
check tiny-test-set '[ "$status" -eq 0 ] && grep -q "growth at step 20" <<<"$out"'

# --- A run stopped at step 10 (of 40) grew at step 5; its checkpoint is the
# source of the damaged copies below.
out=$("$graft" train "${small[@]}" --hidden 16 --epochs 2 --grow widen:24@s5 --log-every 1 --checkpoint-every 3 --max-steps 10 \
      --run-dir "$tmp/mid" 2>&1); status=$?
check mid-run-stops '[ "$status" -eq 0 ] && grep -q "stopped at step 10 of 40" <<<"$out"'
cp -r "$tmp/mid" "$tmp/mid_copy"

# damage NAME [key=value ...] [drop=KEY] [nan=KEY]: a copy of the checkpoint
# at $tmp/NAME/checkpoint.safetensors with metadata set, a tensor dropped or
# one value of a tensor made NaN.
damage() {
  local name="$1"
  shift
  mkdir -p "$tmp/$name"
  python3 - "$tmp/mid_copy/checkpoint.safetensors" "$tmp/$name/checkpoint.safetensors" "$@" <<'PY'
import json, math, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__"); data = {k: bytearray(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
for arg in sys.argv[3:]:
    what, _, rest = arg.partition("=")
    if what == "drop": del h[rest]; del data[rest]
    elif what == "nan": data[rest][0:4] = struct.pack("<f", math.nan)
    else: meta[what] = rest
out, at = {"__metadata__": meta}, 0
for k, v in h.items():
    out[k] = dict(v, data_offsets=[at, at + len(data[k])]); at += len(data[k])
head = json.dumps(out).encode(); head += b" " * (-len(head) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(head)) + head + b"".join(data[k] for k in h))
PY
}

# --- Damaged saved settings name the file and the key, never a flag.
damage s_epochs train.config.epochs=abc
expect_failure saved-epochs-malformed "s_epochs/checkpoint.safetensors: a malformed setting: expected a whole number, found 'abc' (metadata key 'train.config.epochs')" \
  train --resume "$tmp/s_epochs"
check saved-epochs-names-no-flag '! grep -q -- "--epochs" <<<"$(head -1 <<<"$out")"'
damage s_threads train.config.threads=5000
expect_failure saved-threads "the checkpoint's setting train.config.threads ($tmp/s_threads/checkpoint.safetensors) must be between 0 and 256" \
  train --resume "$tmp/s_threads"
damage s_warmup train.config.warmup=-5
expect_failure saved-warmup-negative "train.config.warmup ($tmp/s_warmup/checkpoint.safetensors) must be between 0" \
  train --resume "$tmp/s_warmup"
damage s_decay train.config.weight-decay=nan
expect_failure saved-weight-decay-nan "train.config.weight-decay ($tmp/s_decay/checkpoint.safetensors) must be a finite" \
  train --resume "$tmp/s_decay"
damage s_hidden train.config.hidden=99999999999999999999
expect_failure saved-hidden-huge "train.config.hidden" train --resume "$tmp/s_hidden"
damage s_version graft.format_version=99
expect_failure format-version-99 "graft.format_version is '99', this graft reads version 1" train --resume "$tmp/s_version"
damage s_iters train.optimizer_iterations=9223372036854775807
expect_failure optimizer-iterations-max "train.optimizer_iterations is 9223372036854775807 but train.step is 10" \
  train --resume "$tmp/s_iters"
damage s_position train.batch_position=0,3
expect_failure step-position-disagree "train.step 10 and train.batch_position 0,3 disagree" train --resume "$tmp/s_position"
damage s_nan nan=mlp/layer_0/kernel
expect_failure nonfinite-weights "s_nan/checkpoint.safetensors: tensor 'mlp/layer_0/kernel' holds 1 NaN or Inf value" \
  train --resume "$tmp/s_nan"
out=$("$graft" train --resume "$tmp/s_nan" --allow-nonfinite --max-steps 12 2>&1); status=$?
check nonfinite-weights-allowed '[ "$status" -eq 0 ] && grep -q "stopped at step 12" <<<"$out"'
# A run that diverges (SGD at a rate no network survives) stops with the
# step and a way out, and its checkpoint keeps the last finite state: it
# resumes without --allow-nonfinite.
out=$("$graft" train "${small[@]}" --hidden 16 --grow "" --optimizer sgd --lr 1e30 --checkpoint-every 1 \
      --run-dir "$tmp/diverge" 2>&1); status=$?
check diverged-stops '[ "$status" -ne 0 ] && grep -q "training diverged, so it stops without saving" <<<"$out" \
  && grep -q "help: lower --lr" <<<"$out"'
out=$("$graft" train --resume "$tmp/diverge" --max-steps 100 2>&1)
check diverged-keeps-finite-checkpoint '[ -e "$tmp/diverge/checkpoint.safetensors" ] && ! grep -q "NaN or Inf value" <<<"$out"'
damage s_slot drop=adam/mlp/layer_0/kernel/m
expect_failure missing-adam-slot "train.optimizer_tensors says" train --resume "$tmp/s_slot"

# --- Saved settings decide how the run goes on: --data-dir (a 2000-example
# data set; the default one has 60000), --checkpoint-every, a --max-steps not
# yet reached (as after a crash), but not one already reached.
damage s_max train.config.max-steps=15
out=$("$graft" train --resume "$tmp/s_max" 2>&1); status=$?
check resume-keeps-data-dir-and-max-steps '[ "$status" -eq 0 ] && grep -q "stopped at step 15 of 40 (--max-steps)" <<<"$out"'
out=$("$graft" inspect "$tmp/s_max/checkpoint.safetensors" 2>&1)
check resume-saves-settings-again 'grep -q "train.config.checkpoint-every = 3" <<<"$out" && grep -q "train.config.data-dir = $data" <<<"$out"'

# --- A fresh run never silently replaces a run; --overwrite does.
sum=$(md5sum <"$tmp/mid/metrics.jsonl")
expect_failure existing-run-folder "the run folder '$tmp/mid' already holds a run (metrics.jsonl, checkpoint.safetensors)" \
  train "${small[@]}" --grow "" --epochs 1 --run-dir "$tmp/mid"
check existing-run-untouched '[ "$(md5sum <"$tmp/mid/metrics.jsonl")" = "$sum" ]'
# A resume that fails (a checkpoint that does not fit its growth plan) leaves the target folder alone.
damage s_arch "train.architecture=784 -> 99 relu -> 10"
cp -r "$tmp/mid_copy" "$tmp/target"
expect_failure failed-resume "replaying the first 1 growth events gives" \
  train --resume "$tmp/s_arch/checkpoint.safetensors" --run-dir "$tmp/target" --overwrite
check failed-resume-keeps-metrics '[ "$(md5sum <"$tmp/target/metrics.jsonl")" = "$sum" ]'

# --- Resume after a crash: records after the checkpoint and a line cut off
# mid-write are dropped; curves.svg plots the whole run with its growth.
cp -r "$tmp/mid_copy" "$tmp/crashed"
printf '{"kind":"step","step":11,"epoch":1,"loss":1,"accuracy":0.5,"samples_per_second":1,"learning_rate":0.001}\n{"kind":"step","st' \
  >>"$tmp/crashed/metrics.jsonl"
touch "$tmp/crashed/checkpoint.safetensors.tmp.999999999" "$tmp/crashed/checkpoint.safetensors.tmp.$$"
out=$("$graft" train --resume "$tmp/crashed" --max-steps 25 2>&1); status=$?
check crashed-resumes '[ "$status" -eq 0 ] && grep -q "dropped 2 lines" <<<"$out"'
check crashed-metrics-valid 'python3 -c "
import json, sys
steps = [r[\"step\"] for r in map(json.loads, open(sys.argv[1])) if r[\"kind\"] == \"step\"]
sys.exit(0 if steps == list(range(1, 26)) else 1)" "$tmp/crashed/metrics.jsonl"'
check crashed-curves-whole-run 'grep -q "widen of .mlp/layer_0. to 24 units" "$tmp/crashed/curves.svg" && grep -q "stroke-dasharray" "$tmp/crashed/curves.svg"'
check stale-temporary-removed '[ ! -e "$tmp/crashed/checkpoint.safetensors.tmp.999999999" ] && [ -e "$tmp/crashed/checkpoint.safetensors.tmp.$$" ]'

# --- A full disk: the metrics write fails with the path and the OS error.
mkdir -p "$tmp/full" && ln -s /dev/full "$tmp/full/metrics.jsonl"
expect_failure full-disk "cannot write a record to '$tmp/full/metrics.jsonl': No space left on device" \
  train "${small[@]}" --grow "" --epochs 1 --log-every 1 --run-dir "$tmp/full" --overwrite

# --- Signals: SIGHUP as SIGINT/SIGTERM, a checkpoint, exit 128 + N.
for sig in HUP TERM; do
  "$graft" train "${small[@]}" --grow "" --hidden 16 --epochs 1000 --checkpoint-every 1 --run-dir "$tmp/sig_$sig" >"$tmp/sig_$sig.out" 2>&1 &
  pid=$!
  for _ in $(seq 300); do [ -f "$tmp/sig_$sig/checkpoint.safetensors" ] && break; sleep 0.1; done
  kill -s "$sig" "$pid"
  wait "$pid"; status=$?
  out=$(cat "$tmp/sig_$sig.out")
  check "sig$sig-exits-128+N" '[ "$status" -eq $((128 + $(kill -l "$sig"))) ] && grep -q "(interrupted by signal $(kill -l "$sig"))" <<<"$out"'
done

finish_tests
