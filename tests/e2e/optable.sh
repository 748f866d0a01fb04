#!/bin/bash
# docs/ir.md's op table is src/ir/ops.def's (tests/ops/irdoc.py): every op
# once, in order, with its arity, kind, function and notation, and an
# adjoint rule in words for every op that has one; docs/language.md's
# table of functions names every function of ops.def.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
t_begin "optable/docs-ir-md"
if t_run /usr/bin/python3 tests/ops/irdoc.py; then
    t_pass
else
    t_fail "docs/ir.md's op table is not ops.def's (tests/ops/irdoc.py --update, then write any new rule)"
fi
