#!/bin/bash
# End-to-end: the lint for numerical traps (src/frontend/sema.c,
# lint_numerics).  Each tests/e2e/lint/NAME.nn holds its expected standard
# error in '# expect: ' lines (as tests/e2e/diagnostics.sh; none: no
# warning at all); warnings do not stop compilation, so nnc exits 0.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/lint"
mkdir -p "$D"
for nn in tests/e2e/lint/*.nn; do
    name=$(basename "$nn" .nn)
    t_begin "lint/$name"
    sed -n -e 's/^# expect: //p' -e 's/^# expect:$//p' "$nn" >"$D/$name.want"
    (cd tests/e2e/lint && "$NNC" --emit=ir "$name.nn") >/dev/null 2>"$D/$name.stderr"
    status=$?
    if [ $status != 0 ]; then
        cat "$D/$name.stderr" >>"$t_log"
        t_fail "exit status $status, expected 0 (warnings only)"
    elif ! cmp -s "$D/$name.want" "$D/$name.stderr"; then
        diff -u --label expected --label got "$D/$name.want" "$D/$name.stderr" >>"$t_log"
        t_fail "standard error differs from the '# expect:' lines"
    else
        t_pass
    fi
done
