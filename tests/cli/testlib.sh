# Shared by the command's test scripts (sourced; their first argument is the
# graft program). Sets $graft (absolute) and $tmp (a folder removed on exit),
# and moves there: flags left out default to --run-dir runs/latest, which
# must be a fresh folder, not one in the caller's folder.
graft="$(realpath "$1")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

failures=0
total=0

# expect_failure NAME EXPECTED_SUBSTRING ARGS...: graft ARGS exits non-zero,
# says EXPECTED_SUBSTRING, and trains nothing first.
expect_failure() {
  local name="$1" want="$2"
  shift 2
  total=$((total + 1))
  local status
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
  if grep -qi "internal assertion\|bug in graft" <<<"$out"; then
    echo "FAIL $name: reported as a bug in graft, not as bad input:"; echo "$out" | head -5
    failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

# check NAME CONDITION: CONDITION (evaluated) holds; prints $out otherwise.
check() {
  total=$((total + 1))
  if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; echo "$out" | tail -20; failures=$((failures + 1)); fi
}

finish_tests() {
  echo "$(( total - failures )) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
