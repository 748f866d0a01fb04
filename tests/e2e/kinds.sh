#!/bin/bash
# docs/ir.md, "Adding an op kind", stays true: every place it names (a file
# and what the file defines, one per line of its list) exists, and every
# kind of src/ir/ir.h that has code (all but leaf and adj) has its case in
# each backend's emit_value and in explain's run_value, the switches the
# section says a new kind is added to; and a kind the C backend lowers as a
# loop nest (emit_loops) has its case in plan.c's cg_nest and is lowered
# as a nest by the JIT too.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh

awk '/^## Adding an op kind$/ { s = 1; next } /^## / { s = 0 }
     s && /^```$/ { f = !f; next } s && f' docs/ir.md >"$T_OUT/kinds-places.txt"
t_begin "kinds/doc-lists-places"
if [ "$(wc -l <"$T_OUT/kinds-places.txt")" -ge 10 ]; then
    t_pass
else
    t_fail "docs/ir.md (Adding an op kind) has no list of places (a fenced block of FILE NAME lines)"
fi
while read -r file name; do
    t_begin "kinds/place/$file/$name"
    # a definition: a line at the top level (not indented, not a comment) naming it
    if [ -f "$file" ] && grep -Eq "^($name|[^[:space:]/*#][^#]*[^[:alnum:]_]$name)([^[:alnum:]_]|\$)|^#define $name\b" "$file"; then
        t_pass
    else
        t_fail "docs/ir.md (Adding an op kind) names $name in $file, which does not define it"
    fi
done <"$T_OUT/kinds-places.txt"

# the kinds with code, from ir.h's IrKind
kinds=$(sed -n 's/^typedef enum IrKind {\(.*\)} IrKind;/\1/p' src/ir/ir.h | tr -d ' ' | tr ',' '\n' |
        grep -vx 'K_LEAF\|K_ADJ')
t_begin "kinds/ir.h"
if [ "$(echo "$kinds" | wc -w)" -ge 5 ]; then t_pass; else t_fail "no IrKind enum in src/ir/ir.h: $kinds"; fi
for pair in src/codegen/emit_c.c:emit_value src/codegen/jit_ops.c:emit_value \
            src/codegen/emit_loops.c:emit_value src/ad/explain.c:run_value; do
    file=${pair%%:*} fn=${pair#*:}
    # the function's body: from its definition to the closing brace at column 0
    awk -v fn="$fn" '$0 ~ "^[a-zA-Z].*[ *]" fn "\\(" { f = 1 } f { print } f && /^}/ { exit }' \
        "$file" >"$T_OUT/kinds-body.txt"
    for k in $kinds; do
        t_begin "kinds/$(basename "$file" .c)/$k"
        if grep -q "case $k:" "$T_OUT/kinds-body.txt"; then
            t_pass
        else
            t_fail "$file's $fn has no case $k (docs/ir.md, Adding an op kind)"
        fi
    done
done

# the body of function $2 of file $1 (from its definition to the closing
# brace at column 0)
body() {
    awk -v fn="$2" '$0 ~ "^[a-zA-Z].*[ *]" fn "\\(" { f = 1 } f { print } f && /^}/ { exit }' "$1"
}
body src/codegen/emit_c.c emit_value >"$T_OUT/kinds-c.txt"
body src/codegen/jit_ops.c emit_value >"$T_OUT/kinds-jit.txt"
body src/codegen/plan.c cg_nest >"$T_OUT/kinds-nest.txt"
nests=$(sed -n 's/.*case \(K_[A-Z_]*\): emit_loops(.*/\1/p' "$T_OUT/kinds-c.txt")
t_begin "kinds/nests"
if [ "$(echo "$nests" | wc -w)" -ge 3 ]; then t_pass; else t_fail "emit_c.c lowers no kind as a loop nest: $nests"; fi
for k in $nests; do
    t_begin "kinds/nest/$k"
    if ! grep -q "case $k:" "$T_OUT/kinds-nest.txt"; then
        t_fail "emit_c.c lowers $k as a loop nest, which plan.c's cg_nest does not plan"
    elif ! grep -q "case $k: emit_loops(" "$T_OUT/kinds-jit.txt"; then
        t_fail "emit_c.c lowers $k as a loop nest and jit_ops.c does not"
    else
        t_pass
    fi
done
