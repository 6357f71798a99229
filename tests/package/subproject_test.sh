#!/usr/bin/env bash
# Configures a parent project that adds graft with add_subdirectory and
# checks that graft leaves the parent alone: no build type forced, no
# compile options added to the parent's folder, no tests, benchmarks or
# examples of graft's, and graft::graft available to link.
set -euo pipefail
src="$1" cmake="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/parent"
cat >"$tmp/parent/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(parent LANGUAGES C CXX)
add_subdirectory("$src" graft)
get_directory_property(parent_options COMPILE_OPTIONS)
if(parent_options)
  message(FATAL_ERROR "graft added compile options to its parent: \${parent_options}")
endif()
if(CMAKE_BUILD_TYPE)
  message(FATAL_ERROR "graft set the parent's build type to '\${CMAKE_BUILD_TYPE}'")
endif()
foreach(target graft_base_test graft_eager_bench seed_tape)
  if(TARGET \${target})
    message(FATAL_ERROR "graft built its own '\${target}' inside a parent project")
  endif()
endforeach()
if(NOT TARGET graft::graft)
  message(FATAL_ERROR "graft::graft is missing")
endif()
add_executable(app app.cc)
target_link_libraries(app PRIVATE graft::graft)
message(STATUS "subproject: ok")
CMAKE
echo 'int main() { return 0; }' >"$tmp/parent/app.cc"
"$cmake" -S "$tmp/parent" -B "$tmp/build" -G Ninja | grep "subproject: ok"
