#!/bin/bash
# Every complete model in the documentation compiles, and `nnc check`
# passes on it: each fenced block that opens with ```nn in README.md and
# docs/*.md (blocks opened with ```nn fragment are partial snippets and
# skipped).
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
    done
done

