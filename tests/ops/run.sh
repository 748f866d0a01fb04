#!/bin/bash
# The op-conformance suite: every op of src/ir/ops.def, in models generated
# from the table, against nnc explain's float64 interpreter, central finite
# differences and PyTorch, in every backend (tests/ops/suite.py says what
# each test checks).  One python process does everything and prints the
# test lines.  Needs /usr/bin/python3 with torch and numpy, like
# tests/torch/run.sh.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
PY=/usr/bin/python3
if ! "$PY" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "SKIP  ops: /usr/bin/python3 has no torch (apt-get install python3-torch)"
    exit 0
fi

# docs/ir.md, "Adding an op", names exactly the files the suite reads
t_begin "ops/docs-name-its-files"
awk '/^## Adding an op$/ { s = 1; next } /^## / { s = 0 }
     s && /^\$ tests\/ops\/suite.py --files$/ { f = 1; next } f && /^```/ { f = 0 } s && f' \
    docs/ir.md >"$T_OUT/ops-files.doc"
"$PY" tests/ops/suite.py --files >"$T_OUT/ops-files.suite" 2>>"$t_log"
if [ -s "$T_OUT/ops-files.suite" ] && diff "$T_OUT/ops-files.doc" "$T_OUT/ops-files.suite" >>"$t_log"; then
    t_pass
else
    t_fail "docs/ir.md (Adding an op) and tests/ops/suite.py --files disagree (diff: doc < > suite)"
fi

# the table's reader takes the first four fields of a row and finds the
# notation and the rule among the rest: a column added anywhere after the
# kind (as the op table may grow) changes nothing it reads
t_begin "ops/table-reader-takes-extra-columns"
X="$T_OUT/ops-extra-columns"
mkdir -p "$X/src/ir" "$X/src/ad"
cp src/ad/rules.c "$X/src/ad/"
sed -E 's/^(OP\([A-Z_]+, *"[a-z_]+", *[0-9]+, *K_[A-Z]+,)(.*)\)$/\1 EXTRA(1, "x"),\2, 42)/' \
    src/ir/ops.def >"$X/src/ir/ops.def"
if grep -q 'EXTRA(1, "x"),' "$X/src/ir/ops.def" &&
   t_run "$PY" -c '
import sys
sys.path.insert(0, "tests/ops")
import optable
key = lambda ops: [(o.code, o.name, o.arity, o.kind, o.notation, o.rule, o.makes) for o in ops]
a, b = optable.read("."), optable.read(sys.argv[1])
assert len(a) > 40 and key(a) == key(b), (key(a), key(b))' "$X"; then
    t_pass
else
    t_fail "tests/ops/optable.py reads a table with extra columns differently"
fi

"$PY" tests/ops/suite.py --nnc "$NNC" --out "$T_OUT" "$@" 2>&1
rc=$?
# suite.py prints a FAIL line for every test it could not pass; a crash
# (a Python exception) would otherwise lose tests silently
[ $rc -eq 0 ] || echo "FAIL  ops/suite.py: exited with status $rc (see the traceback above)"
exit 0
