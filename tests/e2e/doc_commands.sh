#!/bin/bash
# Every shell block of README.md and docs/*.md runs, and what each command
# prints agrees with what the document shows (tests/docs/run_docs.py; the
# conventions are in docs/tests.md).  One test per block; blocks shown but
# not run are listed with their reason.  First the runner itself, on
# fixtures: tests/docs/fixtures/good.md must pass block by block, bad.md
# must fail each block naming its line, norun.md (a norun without a
# reason) must be refused.
#   tests/e2e/doc_commands.sh [DOC.md...]     these documents only
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
PY=/usr/bin/python3
FX=tests/docs/fixtures
export DOCS_OUT="$T_OUT/docs-fixtures"

t_begin "docs/runner/passes-what-agrees"
if t_run "$PY" tests/docs/run_docs.py $FX/good.md &&
   [ "$(grep -c '^PASS' "$t_log")" = 12 ] && grep -q "^# not run: $FX/good.md:82 (a fixture: shown, never run)" "$t_log"; then
    t_pass
else
    t_fail "run_docs.py did not pass every block of $FX/good.md (12) and list its norun block"
fi

t_begin "docs/runner/fails-what-differs"
t_run "$PY" tests/docs/run_docs.py $FX/bad.md
if [ "$(grep -c '^FAIL' "$t_log")" = 4 ] &&
   grep -q "bad.md:5: the output of \`echo \"loss 0.2246\"\` differs" "$t_log" &&
   grep -q '^      |   -loss 0.2247$' "$t_log" && grep -q '^      |   +loss 0.2246$' "$t_log" &&
   grep -q "bad.md:11: the output of \`echo \"loss 1.05\"\` differs (numbers to rtol=0.01)" "$t_log" &&
   grep -q "bad.md:15: \$ echo hi; false" "$t_log" && grep -q "bad.md:20: the block exited with status 1" "$t_log"; then
    t_pass
else
    t_fail "run_docs.py did not fail each of the 4 blocks of $FX/bad.md with its line and a diff"
fi

t_begin "docs/runner/norun-needs-a-reason"
if ! t_run "$PY" tests/docs/run_docs.py $FX/norun.md && grep -q "norun.md:4: norun needs a reason" "$t_log"; then
    t_pass
else
    t_fail "a norun block without a reason was not refused"
fi

unset DOCS_OUT
"$PY" tests/docs/run_docs.py "$@"
