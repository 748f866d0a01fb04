#!/bin/bash
# run.sh [--quick] [--out DIR]: the character-level language model end to
# end: make the text, build charlm.nn, train it, sample text from it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NNC=${NNC:-$ROOT/nnc}
PY=${PY:-/usr/bin/python3}
OUT=$HERE/out
EPOCHS=10
while [ $# -gt 0 ]; do
    case $1 in
    --quick) EPOCHS=3 ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [--quick] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$OUT"
$PY "$HERE/make_text.py" "$OUT"
"$NNC" build "$HERE/charlm.nn" -o "$OUT/charlm"
(cd "$OUT" && ./charlm train --epochs $EPOCHS --log run --overwrite --save params.npz)
$PY "$HERE/sample.py" "$OUT/charlm" "$OUT/params.npz" "the " 60
