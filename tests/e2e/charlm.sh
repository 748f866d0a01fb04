#!/bin/bash
# examples/charlm (docs/language.md, Recurrent networks): the character-level
# language model trains (its loss per character falls far below log 28) and
# sample.py draws text of its alphabet through `predict --outputs next`.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/charlm"
rm -rf "$D"
t_begin "e2e/charlm/trains-and-samples"
if ! t_run bash examples/charlm/run.sh --quick --out "$D"; then
    t_fail "examples/charlm/run.sh --quick failed"
else
    last=$(awk -F, 'NR > 1 { l = $3 } END { print l }' "$D/run/metrics.csv")
    text=$(tail -n 1 "$t_log")
    echo "last loss $last, sampled: $text" >>"$t_log"
    if awk -v l="$last" 'BEGIN { exit !(l < 1.0) }' && [ ${#text} -eq 64 ] &&
       [[ "$text" =~ ^[a-z\ .]+$ ]] && [[ "$text" == "the "* ]]; then
        t_pass
    else
        t_fail "loss per character $last (want < 1, log 28 = 3.33 at chance), sample '$text'"
    fi
fi
