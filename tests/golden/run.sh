#!/bin/bash
# Golden files for the readable forms: for each tests/golden/NAME.nn,
#   NAME.grad     the output of `nnc --emit=grad NAME.nn`
#   NAME.c        the output of `nnc NAME.nn -o NAME.c`, the fused loops (where present)
#   NAME.loops.c  the output of `nnc NAME.nn -o NAME.c --style=loops` (where present)
# and the explain forms at the end of this file
# must match byte for byte.  After an intended change to those forms,
# regenerate them and review the diff:
#   tests/golden/run.sh --update && git diff tests/golden
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/golden"
mkdir -p "$D"
update=0
[ "${1:-}" = "--update" ] && update=1

# golden NAME KIND FILE CMD...: CMD's output (written to $D/NAME.KIND) against FILE
golden() {
    local name=$1 kind=$2 want=$3; shift 3
    t_begin "golden/$name.$kind"
    local got="$D/$name.$kind"
    if ! t_run "$@"; then
        t_fail "nnc failed: $*"
        return
    fi
    if [ $update = 1 ]; then
        cp "$got" "$want"
        echo "updated $want" >&2
        t_pass
    elif [ ! -f "$want" ]; then
        t_fail "$want is missing (tests/golden/run.sh --update writes it)"
    elif diff -u "$want" "$got" >>"$t_log"; then
        t_pass
    else
        t_fail "output differs from $want (if intended: tests/golden/run.sh --update, review git diff)"
    fi
}

for nn in tests/golden/*.nn; do
    name=$(basename "$nn" .nn)
    g="tests/golden/$name"
    golden "$name" grad "$g.grad" sh -c "cd tests/golden && \"\$0\" --emit=grad $name.nn > \"\$1\"" \
        "$NNC" "$D/$name.grad"
    if [ -f "$g.c" ]; then
        golden "$name" c "$g.c" sh -c "cd tests/golden && \"\$0\" $name.nn -o \"\$1\"" \
            "$NNC" "$D/$name.c"
    fi
    if [ -f "$g.loops.c" ]; then
        golden "$name" loops.c "$g.loops.c" sh -c "cd tests/golden && \"\$0\" $name.nn -o \"\$1\" --style=loops" \
            "$NNC" "$D/$name.loops.c"
    fi
done

# nnc explain, text and LaTeX (docs/teaching.md), on the sigmoid network:
# an entry with one gradient step, and a whole tensor fed by the penalty too
golden sigmoid explain.txt tests/golden/sigmoid.explain.txt sh -c \
    "cd tests/golden && \"\$0\" explain sigmoid.nn --wrt 'W1[0,0]' --lr 0.1 > \"\$1\"" \
    "$NNC" "$D/sigmoid.explain.txt"
golden sigmoid explain.tex tests/golden/sigmoid.explain.tex sh -c \
    "cd tests/golden && \"\$0\" explain sigmoid.nn --wrt W2 --lr 0.1 --latex > \"\$1\"" \
    "$NNC" "$D/sigmoid.explain.tex"
