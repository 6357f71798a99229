# Shared by demo.sh, test.sh and bench.sh: installs what is missing from
# Debian's packages and configures + builds graft.
set -euo pipefail

GRAFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GRAFT_JOBS="${GRAFT_JOBS:-$(nproc)}"

# Packages every build needs. bench.sh adds libtorch-dev. libdnnl-dev
# (oneDNN) runs float32 convolutions; a build without it (or with
# -DGRAFT_WITH_DNNL=OFF) runs them on im2col and OpenBLAS.
GRAFT_PACKAGES=(build-essential cmake ninja-build libopenblas-dev libgtest-dev libgmock-dev
  libbenchmark-dev libcli11-dev zlib1g-dev dataset-fashion-mnist python3 python3-numpy openmpi-bin libopenmpi-dev
  python3-dev pybind11-dev python3-pybind11 python3-pytest libdnnl-dev)

# install_missing PKG...: apt-get installs the packages not yet installed.
install_missing() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "graft: installing ${missing[*]}"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# build DIR [cmake args...]: configures (once) and builds into DIR.
build() {
  local dir="$1"
  shift
  cmake -S "$GRAFT_ROOT" -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$GRAFT_JOBS"
}
