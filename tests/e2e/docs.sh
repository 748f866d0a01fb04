#!/bin/bash
# Every complete model in the documentation compiles, and `nnc check`
# passes on it: each fenced block that opens with ```nn in README.md and
# docs/*.md (blocks opened with ```nn fragment are partial snippets and
# skipped).  And what docs/language.md says of check and stop_gradient.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/docs"
mkdir -p "$D"
for md in README.md docs/*.md; do
    rm -f "$D"/block*.nn
    awk -v dir="$D" '/^```nn$/ { f = 1; n++; next } /^```/ { f = 0 } f { print > (dir "/block" n ".nn") }' "$md"
    for nn in "$D"/block*.nn; do
        [ -f "$nn" ] || continue
        name="docs/$(basename "$md" .md)/$(basename "$nn" .nn)"
        t_begin "$name"
        if t_run "$NNC" "$nn" -o "$D/out.c"; then t_pass; else t_fail "the example in $md does not compile"; fi
        t_begin "$name/check"
        if t_run "$NNC" check "$nn" && grep -q "^PASS" "$t_log"; then
            t_pass
        else
            t_fail "nnc check does not pass on the example in $md"
        fi
        [ "$md" = docs/language.md ] && grep -q "^r = abs(yhat - y)$" "$nn" && cp "$nn" "$D/huber.nn"
    done
done

# language.md: the Huber loss with a target computed from the prediction
# through stop_gradient fails check by the stop_gradient's share alone
t_begin "docs/language/stop-gradient-check"
if [ ! -f "$D/huber.nn" ]; then
    t_fail "docs/language.md has no Huber loss example (r = abs(yhat - y))"
else
    sed 's/^r = abs(yhat - y)$/goal = stop_gradient(0.9 * y + 0.1 * yhat)\nr = abs(yhat - goal)/' \
        "$D/huber.nn" >"$D/huber_sg.nn"
    "$NNC" check "$D/huber_sg.nn" >"$D/huber_sg.txt" 2>&1
    rc=$?
    cat "$D/huber_sg.txt" >>"$t_log"
    if [ $rc = 1 ] && grep -q "^W .* 5\.263e-02  FAIL$" "$D/huber_sg.txt" &&
       grep -q "0.1 / 1.9 = 5%" docs/language.md; then
        t_pass
    else
        t_fail "check on the stop_gradient variant should FAIL with a relative error 0.1 / 1.9, as docs/language.md says"
    fi
fi
