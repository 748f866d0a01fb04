#!/bin/bash
# End-to-end: the experiment board (docs/board.md).  A trainer with --log
# writes DIR/board.html (none with --no-plots), `nnc sweep` writes sweep.json
# and its board, `nnc board` writes one over any directories; the page holds
# every script it needs.  Then in headless Chromium (tests/e2e/board.js,
# through playwright-core from build/npm): the pages load without errors or
# network, show one line per run, curves equal to metrics.csv, the sweep's
# means and standard deviations, brushing filters the table and the curves,
# and a live board reloads itself keeping its controls; a damaged file costs
# only itself.  Screenshots of each part are left in tests/out/board/shots/.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/board"
rm -rf "$D"
mkdir -p "$D/shots"

t_begin "board/trainer"
t_build examples/xor.nn "$D/xor" || { t_fail "nnc build failed"; exit 0; }
if t_run "$D/xor" train --quiet --epochs 8 --log "$D/own/a" &&
   t_run "$D/xor" train --quiet --epochs 8 --lr 0.05 --seed 2 --log "$D/own/b" &&
   t_run "$D/xor" train --quiet --epochs 2 --no-plots --log "$D/noplots"; then
    if [ ! -f "$D/own/a/board.html" ] || [ ! -f "$D/own/b/board.html" ]; then
        t_fail "no board.html in the run directories"
    elif [ -e "$D/noplots/board.html" ]; then
        t_fail "--no-plots wrote a board"
    elif ! grep -q '"refresh": 0' "$D/own/a/board.html"; then
        t_fail "the finished run's board still reloads itself"
    else
        t_pass
    fi
else
    t_fail "training failed"
fi

# every script inline: no element loads from the web (board.js checks in
# the browser that the page asks for nothing but itself)
t_begin "board/self-contained"
if grep -Eq '<(script|link|img)[^>]* (src|href)="?(https?:)?//' "$D/own/a/board.html"; then
    t_fail "loads from the web: $(grep -Eo '<(script|link|img)[^>]* (src|href)="?(https?:)?//[^>]*' "$D/own/a/board.html" | head -3)"
elif ! grep -q 'Apache License' "$D/own/a/board.html"; then
    t_fail "the charting library's licence is not in the page"
else
    t_pass
fi

t_begin "board/sweep"
if t_run "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --set lr=0.03,0.003 \
        --repeat 3 --jobs 2 --out "$D/sw" -- --epochs 6; then
    n=$(grep -c '"config":' "$D/sw/sweep.json")
    if [ "$n" != 8 ]; then t_fail "sweep.json has $n configurations, expected 8"
    elif [ ! -f "$D/sw/board.html" ]; then t_fail "the sweep wrote no board.html"
    else t_pass; fi
else
    t_fail "nnc sweep failed"
fi

# a third run whose files would break a careless page: a config.json with
# </script> in a string, a summary.json cut short
cp -r "$D/own/a" "$D/own/c"
sed -i 's|"model": "xor"|"model": "xor</script><script>throw 1</script>"|' "$D/own/c/config.json"
printf '{"status": "fini' >"$D/own/c/summary.json"

# a sweep of many short runs: once it has gone 3 seconds, a finished run
# rewrites its board as a live one (stopped then; the workers exit with
# their run)
t_begin "board/sweep-live"
"$NNC" sweep examples/sweep.nn -D depth=1 --set lr=0.03,0.003 --repeat 40 --jobs 1 \
    --out "$D/swlive" -- --epochs 1000 >"$D/swlive.log" 2>&1 &
pid=$!
for _ in $(seq 240); do
    grep -qs '"refresh": [1-9]' "$D/swlive/board.html" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
done
if grep -qs '"refresh": [1-9]' "$D/swlive/board.html"; then
    t_pass
else
    t_fail "no live board in $D/swlive while the sweep ran ($(tail -n 1 "$D/swlive.log"))"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null

t_begin "board/command"
if ! t_run "$NNC" board "$D/own"; then
    t_fail "nnc board failed"
elif [ ! -f "$D/own/board.html" ]; then
    t_fail "nnc board wrote no $D/own/board.html"
elif ! t_run "$NNC" board "$D/own" "$D/sw" -o "$D/both.html"; then
    t_fail "nnc board over two directories failed"
elif t_run "$NNC" board "$D/none"; then
    t_fail "nnc board accepted a missing directory"
else
    t_pass
fi

# the browser: Debian's chromium (scripts/deps.sh --all) and playwright-core
# (make installs it with the charting library)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
PW="$ROOT/${BUILD:-build}/npm/node_modules"
missing=""
[ -x "$CHROMIUM" ] || missing="chromium (scripts/deps.sh --all)"
command -v node >/dev/null 2>&1 || missing="node (scripts/deps.sh)"
[ -d "$PW/playwright-core" ] || missing="playwright-core (make installs it with npm)"
if [ -n "$missing" ]; then
    for t in sweep runs live; do
        t_begin "board/browser-$t"
        if [ "${CI:-}" = true ]; then t_fail "missing: $missing"; else t_skip "missing: $missing"; fi
    done
    exit 0
fi
browse() { t_run env NODE_PATH="$PW" CHROMIUM="$CHROMIUM" node tests/e2e/board.js "$@"; }

t_begin "board/browser-sweep"
mkdir -p "$D/shots/sweep"
if browse full "$D/sw/board.html" "$D/sw" "$D/shots/sweep"; then t_pass; else t_fail "see above"; fi

t_begin "board/browser-runs"
mkdir -p "$D/shots/runs"
if browse full "$D/own/board.html" "$D/own" "$D/shots/runs"; then t_pass; else t_fail "see above"; fi

# a run long enough to have a live board (rewritten every few seconds while
# it trains); stopped once the page has reloaded itself
t_begin "board/browser-live"
"$D/xor" train --quiet --epochs 1000000 --batch 1 --log "$D/live" >"$D/live.log" 2>&1 &
pid=$!
for _ in $(seq 120); do
    grep -qs '"refresh": [1-9]' "$D/live/board.html" && break
    sleep 0.5
done
if ! grep -qs '"refresh": [1-9]' "$D/live/board.html"; then
    t_fail "no live board in $D/live after 60 s"
elif browse live "$D/live/board.html" "$D/shots"; then
    t_pass
else
    t_fail "see above"
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
