#!/bin/sh
# deps.sh - install the Debian packages nnc needs, when they are missing.
#
#   scripts/deps.sh            build and test dependencies (a no-op when present):
#                              the toolchain, Check, zlib, OpenBLAS, LLVM (the JIT of
#                              `nnc run`; Debian 12's llvm-dev is LLVM 14), numpy
#                              (round-trip tests), gnuplot (plots), Fashion-MNIST (examples),
#                              Open MPI (runs over MPI, docs/distributed.md: like LLVM
#                              optional to the build, but `make test` runs its tests),
#                              Slurm (slurm-wlm: tests/e2e/slurm.sh submits the job
#                              scripts of docs/distributed.md to a Slurm of its own),
#                              Node.js and npm (make installs the board's charting
#                              library with npm, docs/board.md)
#   scripts/deps.sh --all      also the optional ones: PyTorch (comparison tests and
#                              benchmarks; large), clang (fuzzing), Chromium (the board's
#                              tests in a browser)
#
# Runs apt-get as root, or through sudo.
set -eu

need="gcc make flex bison pkg-config check zlib1g-dev libpng-dev libopenblas-dev llvm-dev python3-numpy gnuplot-nox dataset-fashion-mnist openmpi-bin libopenmpi-dev slurm-wlm nodejs npm"
optional="python3-torch clang chromium"
want="$need"
[ "${1:-}" = "--all" ] && want="$need $optional"

# Node.js and npm count as present when their commands are, wherever they
# come from (NodeSource's nodejs package, say, has npm in it)
installed() {
    case $1 in
    nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
    npm) command -v npm >/dev/null 2>&1 && return 0 ;;
    esac
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for pkg in $want; do
    installed "$pkg" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: need root or sudo to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
