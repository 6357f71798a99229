#!/usr/bin/env bash
# A rank killed mid-run ends the whole job, non-zero, within 10 s; the run
# then resumes from rank 0's last checkpoint on another number of ranks,
# reaches the same step and ends where an uninterrupted run ends.
#   kill_resume.sh JOB MPIEXEC NUMPROC_FLAG [LAUNCHER_FLAGS...]
set -u
job="$1"
mpiexec="$2"
np_flag="$3"
shift 3
flags=("$@")
dir="$(mktemp -d /tmp/graft_kill_resume_XXXXXX)"
trap 'rm -rf "$dir"' EXIT
fail() { echo "kill_resume: $*" >&2; for f in "$dir"/*.log; do echo "--- $f"; cat "$f"; done >&2; exit 1; }
run() { local n="$1"; shift; "$mpiexec" "$np_flag" "$n" "${flags[@]}" "$job" "$@"; }

mkdir -p "$dir/full" "$dir/killed"
run 2 --dir "$dir/full" --steps 40 --every 10 >"$dir/full.log" 2>&1 || fail "the uninterrupted run failed"

timeout 60 "$mpiexec" "$np_flag" 2 "${flags[@]}" "$job" --dir "$dir/killed" --steps 40 --every 10 \
  --kill-rank 1 --kill-step 25 >"$dir/killed.log" 2>&1
rc=$?
ended="$(date +%s.%N)"
[ "$rc" -ne 0 ] || fail "the job with a killed rank exited 0"
[ "$rc" -ne 124 ] || fail "the job with a killed rank hung (timeout)"
killed_at="$(sed -n 's/^killed_at=//p' "$dir/killed.log")"
[ -n "$killed_at" ] || fail "rank 1 never reached the kill"
python3 -c "import sys; d = $ended - $killed_at; print(f'job ended {d:.1f} s after the kill'); sys.exit(0 if d < 10 else 1)" \
  || fail "the job took 10 s or more to end after the kill"
grep -qi "rank 1" "$dir/killed.log" || fail "the launcher's message does not name rank 1"

run 1 --dir "$dir/killed" --steps 40 --every 10 --resume >"$dir/resumed.log" 2>&1 || fail "the resumed run failed"
grep -q "resumed_from_step=20 saved_by=2 ranks" "$dir/resumed.log" || fail "did not resume from step 20"
grep -q "final_step=40" "$dir/resumed.log" || fail "the resumed run did not reach step 40"
full="$(sed -n 's/.*checksum=//p' "$dir/full.log")"
resumed="$(sed -n 's/.*checksum=//p' "$dir/resumed.log")"
python3 -c "import sys; a, b = $full, $resumed; print(f'checksums {a} (2 ranks) {b} (resumed on 1)'); \
sys.exit(0 if abs(a - b) <= 1e-4 * abs(a) else 1)" || fail "the resumed run ends elsewhere than the uninterrupted one"
echo "kill_resume: ok"
