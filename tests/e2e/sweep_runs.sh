#!/bin/bash
# nnc sweep's runs directory (docs/sweep.md): one sweep at a time in it, a
# sweep of other settings refused, runs.csv's column names unambiguous, and
# Ctrl-C: the table of the runs that finished, then --resume runs the rest.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/sweep_runs"
rm -rf "$D"
mkdir -p "$D"

# the swept lr and the last row's (decayed) lr are two columns of runs.csv:
# the second is final_lr
t_begin "sweep_runs/lr-columns-disambiguated"
if ! t_run "$NNC" sweep examples/sweep.nn -D depth=0 --set lr=0.03,0.003 --jobs 1 --out "$D/a" -- --epochs 1; then
    t_fail "nnc sweep failed"
else
    header=$(head -n 1 "$D/a/runs.csv")
    echo "$header" >>"$t_log"
    if [ "$(echo "$header" | tr ',' '\n' | grep -c '^lr$')" != 1 ] || ! echo "$header" | grep -q ",final_lr,"; then
        t_fail "runs.csv: expected one 'lr' column (the swept one) and 'final_lr', got: $header"
    else
        t_pass
    fi
fi

# a sweep of other settings into the same directory is refused; the same
# sweep again replaces its runs (which a trainer refuses without --overwrite)
t_begin "sweep_runs/other-settings-refused"
"$NNC" sweep examples/sweep.nn -D depth=1 --set lr=0.03 --jobs 1 --out "$D/a" -- --epochs 1 >>"$t_log" 2>&1
rc=$?
if [ $rc -ne 1 ] || ! grep -q "^nnc sweep: error: $D/a holds a sweep of other settings" "$t_log"; then
    t_fail "expected exit 1 and 'holds a sweep of other settings', got $rc"
elif ! t_run "$NNC" sweep examples/sweep.nn -D depth=0 --set lr=0.03,0.003 --jobs 1 --out "$D/a" -- --epochs 1 ||
     [ "$(awk -F, 'NR > 1 && $0 ~ /,1,/' "$D/a/runs.csv" | wc -l)" = 0 ]; then
    t_fail "the same sweep again failed"
else
    t_pass
fi

# a second sweep into a directory while the first runs there is refused
t_begin "sweep_runs/one-at-a-time"
mkdir -p "$D/busy"
sleep 300 &
holder=$!
echo $holder >"$D/busy/sweep.lock"
"$NNC" sweep examples/sweep.nn -D depth=0 --jobs 1 --out "$D/busy" -- --epochs 1 >>"$t_log" 2>&1
rc=$?
kill $holder 2>/dev/null
wait $holder 2>/dev/null
echo 999999999 >"$D/busy/sweep.lock"   # a sweep that was killed: its lock is taken over
if [ $rc -ne 1 ] || ! grep -q "^nnc sweep: error: $D/busy is in use by another nnc sweep (process $holder)" "$t_log"; then
    t_fail "expected exit 1 and 'in use by another nnc sweep', got $rc"
elif ! t_run "$NNC" sweep examples/sweep.nn -D depth=0 --jobs 1 --out "$D/busy" -- --epochs 1 || [ -e "$D/busy/sweep.lock" ]; then
    t_fail "a stale lock was not taken over, or the lock was left behind"
else
    t_pass
fi

# Ctrl-C: the runs stop, the sweep writes the table of those that finished
# and says how to go on; --resume runs only the others, and the tables are
# then those of an uninterrupted sweep
t_begin "sweep_runs/ctrl-c-then-resume"
args=(sweep examples/sweep.nn -D depth=0 --set lr=0.03,0.01,0.003,0.001 --repeat 2 --jobs 1 -- --epochs 20 --data "noisy_xor(n = 20000)")
set -m
"$NNC" "${args[@]:0:8}" --out "$D/int" "${args[@]:8}" >"$D/int.out" 2>"$D/int.err" &
pid=$!
set +m
for _ in $(seq 600); do
    [ "$(grep -c '^\[' "$D/int.err" 2>/dev/null)" -ge 2 ] && break
    sleep 0.05
done
kill -INT -- -$pid   # the whole process group, as a terminal's Ctrl-C
wait $pid
rc=$?
cat "$D/int.out" "$D/int.err" >>"$t_log"
done_before=$(grep -c "seed [12]: test_loss" "$D/int.err")
if [ $rc -ne 130 ]; then
    t_fail "expected exit status 130 after Ctrl-C, got $rc"
elif ! grep -q "^nnc sweep: interrupted (Ctrl-C): $done_before of 8 runs finished, in the tables above; continue with: nnc sweep .* --resume -- --epochs 20" "$D/int.err"; then
    t_fail "no 'interrupted (Ctrl-C): $done_before of 8 runs finished ... --resume'"
elif [ ! -s "$D/int/results.csv" ] || [ "$done_before" -ge 8 ]; then
    t_fail "no results.csv after the interruption, or nothing was left to interrupt ($done_before runs done)"
elif ! "$NNC" "${args[@]:0:8}" --out "$D/int" --resume "${args[@]:8}" >"$D/res.out" 2>"$D/res.err"; then
    cat "$D/res.err" >>"$t_log"
    t_fail "--resume failed"
elif [ "$(grep -c "(finished before)" "$D/res.err")" != "$done_before" ]; then
    cat "$D/res.err" >>"$t_log"
    t_fail "--resume: expected $done_before runs kept as 'finished before'"
elif ! t_run "$NNC" "${args[@]:0:8}" --out "$D/full" "${args[@]:8}" ||
     ! diff <(cut -d, -f1-13 "$D/full/runs.csv") <(cut -d, -f1-13 "$D/int/runs.csv") >>"$t_log"; then
    t_fail "the resumed sweep's runs.csv differs from an uninterrupted sweep's"
else
    t_pass
fi

# at a terminal (script(1) gives the sweep one) each finished run's line
# says how long the sweep has left; in a pipe the lines stay as they were
t_begin "sweep_runs/time-left-at-a-terminal"
script -qec "$NNC sweep examples/sweep.nn -D depth=0 --set lr=0.03,0.01,0.003 --jobs 1 --out $D/tty -- --epochs 1" /dev/null >"$D/tty.out" 2>&1
cat "$D/tty.out" >>"$t_log"
if ! grep -q "^\[1/3\] depth=0 lr=0.03 seed 1: test_loss [0-9.]*  ([0-9]*:[0-9][0-9] left)" "$D/tty.out"; then
    t_fail "at a terminal: no '(M:SS left)' after the first run's line"
elif grep -q "left)" "$T_OUT/sweep_runs_lr-columns-disambiguated.log"; then
    t_fail "in a pipe: the lines say how long is left"
else
    t_pass
fi
