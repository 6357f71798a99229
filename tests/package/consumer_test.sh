#!/usr/bin/env bash
# Installs this build of graft into a temporary prefix, then builds and runs
# examples/consumer against it twice: with CMake's find_package(graft) and
# with pkg-config. Arguments: source dir, build dir, C++ compiler, extra
# compile/link flags (the sanitizer flags of a sanitizer build, or "").
set -euo pipefail
src="$1" build="$2" cxx="$3" flags="${4:-}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null

cmake -S "$src/examples/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out="$("$tmp/consumer/consumer")"
echo "$out"
grep -q "^graft [0-9]*\.[0-9]*\.[0-9]*$" <<<"$out"
grep -q "^consumer: ok$" <<<"$out"

# pkg-config: the same program from one compiler line.
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
"$cxx" -O2 $flags "$src/examples/consumer/main.cc" -o "$tmp/consumer_pc" $(pkg-config --cflags --libs graft)
"$tmp/consumer_pc" | grep -q "^consumer: ok$"
echo "pkg-config build: ok"
