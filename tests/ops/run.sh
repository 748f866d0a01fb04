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

"$PY" tests/ops/suite.py --nnc "$NNC" --out "$T_OUT" "$@" 2>&1
rc=$?
# suite.py prints a FAIL line for every test it could not pass; a crash
# (a Python exception) would otherwise lose tests silently
[ $rc -eq 0 ] || echo "FAIL  ops/suite.py: exited with status $rc (see the traceback above)"
exit 0
