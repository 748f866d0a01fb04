#!/bin/bash
# End-to-end: the compile cache (docs/cache.md) and the sweep's parallel
# compilation.  A JIT sweep compiles every architecture once (a miss each),
# the same sweep again takes every object from the cache with the same
# results; a damaged entry is compiled afresh; NNC_CACHE=off writes
# nothing; a changed model misses; two sweeps sharing one cache at the same
# time both finish with the same results; compiling two architectures at a
# time (--jobs 2) gives the numbers of one at a time (--jobs 1).  nnc build
# takes a trainer from the cache when the C, compiler, flags and runtime
# are the same, and only then.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/cache"
rm -rf "$D"
mkdir -p "$D"

# runs.csv without its timing columns: what must not change
results() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /seconds/) skip[i] = 1 }
        { o = ""; for (i = 1; i <= NF; i++) if (!skip[i]) o = o $i ","; print o }' "$1/runs.csv"
}
compiled() { grep -o '[0-9]* architectures\? compiled ([0-9]* from the compile cache[^)]*)' "$1"; }
sweep() {   # sweep OUT [env...]: a small JIT sweep (4 architectures, 8 runs)
    local out=$1; shift
    env "$@" "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --repeat 2 --jobs 2 \
        --backend jit --out "$D/$out" -- --epochs 2 >"$D/$out.txt" 2>&1
}

if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    for t in jit-miss-then-hit jit-damaged-entry off jit-invalidated concurrent-sweeps \
             same-code-compiled-once parallel-compile-same-as-sequential; do
        t_begin "cache/$t"; t_skip "nnc was built without LLVM (scripts/deps.sh, then make)"
    done
else
    C1="$D/c1"
    t_begin "cache/jit-miss-then-hit"
    if ! sweep cold NNC_CACHE_DIR="$C1" || ! sweep warm NNC_CACHE_DIR="$C1"; then
        t_fail "nnc sweep failed: $(tail -n 5 "$D/cold.txt" "$D/warm.txt")"
    elif [ "$(compiled "$D/warm.txt")" != "4 architectures compiled (3 from the compile cache, 1 the same code as another)" ]; then
        # depth 0's two widths: one read from the cache, the other shares it
        t_fail "the second sweep should take all 4 from the cache: $(compiled "$D/warm.txt")"
    elif [ "$(ls "$C1"/*.o | wc -l)" != 3 ]; then
        # depth 0 ignores the width: two architectures, one module
        t_fail "expected 3 objects in the cache, found: $(ls "$C1")"
    elif ! diff <(results "$D/cold") <(results "$D/warm") >>"$t_log"; then
        t_fail "the cached objects give other results"
    else
        t_pass
    fi

    t_begin "cache/jit-damaged-entry"   # truncated and garbage entries: recompiled, replaced
    first=$(ls "$C1"/*.o | head -n 1); last=$(ls "$C1"/*.o | tail -n 1)
    size=$(stat -c %s "$first")
    head -c 100 "$first" >"$D/part" && cp "$D/part" "$first"
    echo garbage >"$last"
    if ! sweep damaged NNC_CACHE_DIR="$C1"; then
        t_fail "nnc sweep failed on a damaged cache: $(tail -n 5 "$D/damaged.txt")"
    elif ! diff <(results "$D/cold") <(results "$D/damaged") >>"$t_log"; then
        t_fail "results differ after recompiling damaged entries"
    elif [ "$(stat -c %s "$first")" != "$size" ]; then
        t_fail "the damaged entry was not replaced"
    else
        t_pass
    fi

    t_begin "cache/off"
    if ! sweep off NNC_CACHE=off NNC_CACHE_DIR="$D/c-off"; then
        t_fail "nnc sweep failed: $(tail -n 5 "$D/off.txt")"
    elif [ -e "$D/c-off" ]; then
        t_fail "NNC_CACHE=off wrote $D/c-off"
    elif [ "$(compiled "$D/off.txt")" != "4 architectures compiled (0 from the compile cache, 1 the same code as another)" ]; then
        t_fail "unexpected: $(compiled "$D/off.txt")"
    elif ! diff <(results "$D/cold") <(results "$D/off") >>"$t_log"; then
        t_fail "results differ without the cache"
    else
        t_pass
    fi

    t_begin "cache/jit-invalidated"   # another activation: other code, no hit
    sed 's/tanh(/sigmoid(/' examples/sweep.nn >"$D/sweep2.nn"
    if ! t_run env NNC_CACHE_DIR="$C1" "$NNC" sweep "$D/sweep2.nn" -D depth=1 -D width=3 \
            --backend jit --out "$D/changed" -- --epochs 2 >"$D/changed.txt" 2>&1; then
        t_fail "nnc sweep failed"
    elif ! grep -q "(0 from the compile cache)" "$t_log"; then
        t_fail "a changed model should miss: $(grep compiled "$t_log")"
    elif [ "$(ls "$C1"/*.o | wc -l)" != 4 ]; then
        t_fail "expected a fourth object, found: $(ls "$C1")"
    else
        t_pass
    fi

    t_begin "cache/concurrent-sweeps"   # one empty cache, two sweeps at once
    sweep par1 NNC_CACHE_DIR="$D/c2" & p1=$!
    sweep par2 NNC_CACHE_DIR="$D/c2" & p2=$!
    wait $p1; r1=$?; wait $p2; r2=$?
    if [ $r1 != 0 ] || [ $r2 != 0 ]; then
        t_fail "a concurrent sweep failed: $(tail -n 5 "$D/par1.txt" "$D/par2.txt")"
    elif ! diff <(results "$D/cold") <(results "$D/par1") >>"$t_log" ||
         ! diff <(results "$D/cold") <(results "$D/par2") >>"$t_log"; then
        t_fail "concurrent sweeps gave other results"
    elif [ "$(ls -A "$D/c2" | wc -l)" != 3 ]; then
        t_fail "expected the 3 objects and no temporary files: $(ls -A "$D/c2")"
    else
        t_pass
    fi

    # depth 0 ignores the width: three architectures with the same code,
    # compiled once even without the cache, though two compile at once
    t_begin "cache/same-code-compiled-once"
    if ! t_run env NNC_CACHE=off "$NNC" sweep examples/sweep.nn -D depth=0 -D width=1..3 \
            --jobs 2 --backend jit --out "$D/same" -- --epochs 2; then
        t_fail "nnc sweep failed"
    elif ! grep -q "3 architectures compiled (0 from the compile cache, 2 the same code as another)" "$t_log"; then
        t_fail "expected one compilation and two sharing it: $(grep compiled "$t_log")"
    elif [ "$(results "$D/same" | cut -d, -f4- | sort -u | wc -l)" != 2 ]; then
        t_fail "the three architectures should give the same results"
    else
        t_pass
    fi

    t_begin "cache/parallel-compile-same-as-sequential"
    if ! t_run env NNC_CACHE=off "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 \
            --repeat 2 --jobs 1 --backend jit --out "$D/seq" -- --epochs 2; then
        t_fail "nnc sweep --jobs 1 failed"
    elif ! diff <(results "$D/cold") <(results "$D/seq") >>"$t_log"; then
        t_fail "--jobs 1 and --jobs 2 give different results"
    else
        t_pass
    fi
fi

# The compiler is a wrapper script, CC=$W; a hit must not need it, which a
# wrapper that fails but has the old one's size and time (the compiler's
# identity in the key) shows.
W="$D/cc-wrapper"
printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v "${CC:-cc}")" >"$W"
chmod +x "$W"
cp -p "$W" "$W.works"
cc_fails() {   # the wrapper, failing, with the same size and modification time
    { printf '#!/bin/sh\nexit 1\n#'; head -c $(($(stat -c %s "$W.works") - 18)) /dev/zero | tr '\0' x; } >"$W"
    touch -r "$W.works" "$W"
}

t_begin "cache/build-hit"
C3="$D/c3"
export NNC_CACHE_DIR="$C3"
if ! CC=$W t_build examples/xor.nn "$D/xor1" || ! CC=$W t_build examples/xor.nn "$D/xor2"; then
    t_fail "nnc build failed"
elif [ "$(ls "$C3" | wc -l)" != 1 ] || ! cmp -s "$D/xor1" "$D/xor2"; then
    t_fail "expected one cached trainer and two identical builds: $(ls "$C3")"
else
    cc_fails
    if CC=$W t_build examples/xor.nn "$D/xor3" && cmp -s "$D/xor1" "$D/xor3"; then t_pass
    else t_fail "the build did not come from the cache"; fi
fi

t_begin "cache/damaged-trainer"   # a damaged trainer is not used: cc runs again, the entry is replaced
entry=$(ls "$C3"/*.exe)
truncate -s $(($(stat -c %s "$entry") / 2)) "$entry"
if CC=$W t_build examples/xor.nn "$D/xor-damaged"; then
    t_fail "the damaged entry was used (the failing compiler did not run)"
else
    cp -p "$W.works" "$W"
    if ! CC=$W t_build examples/xor.nn "$D/xor-rebuilt" ||
       ! t_run "$D/xor-rebuilt" train --epochs 1 --quiet --no-plots; then
        t_fail "the rebuilt trainer does not train"
    else
        cc_fails   # the replaced entry is whole: a hit again
        if ! CC=$W t_build examples/xor.nn "$D/xor-again" || ! cmp -s "$D/xor-rebuilt" "$D/xor-again" ||
           [ "$(ls "$C3" | wc -l)" != 1 ]; then
            t_fail "the damaged entry was not replaced: $(ls -l "$C3")"
        else
            t_pass
        fi
    fi
fi

t_begin "cache/build-invalidated"   # other flags, model, or the cache off: cc runs
t_run env NNC_CFLAGS="-O2 -DNNRT_SIMD" "$NNC" build examples/xor.nn -o "$D/xor4"
t_build examples/xor.nn "$D/xor5" --dtype f64
t_run env NNC_CACHE=off "$NNC" build examples/xor.nn -o "$D/xor6"
bad=""
for e in xor4 xor5 xor6; do
    "$D/$e" train --epochs 1 --quiet --no-plots --log "$D/$e.run" >/dev/null 2>&1 || bad="$bad $e"
done
if [ -n "$bad" ]; then
    t_fail "these builds are not real trainers (a wrong cache hit?):$bad"
elif [ "$(ls "$C3" | wc -l)" != 3 ]; then
    t_fail "expected 3 cached trainers (NNC_CACHE=off adds none): $(ls "$C3")"
else
    t_pass
fi
unset NNC_CACHE_DIR

t_begin "cache/bad-max-size"   # NNC_CACHE_MAX_MB that is no size: said once, the default kept
out=$(NNC_CACHE_DIR="$D/c4" NNC_CACHE_MAX_MB=abc "$NNC" build examples/xor.nn -o "$D/xor7" 2>&1); rc=$?
if [ $rc = 0 ] && [ "$out" = "nnc: warning: NNC_CACHE_MAX_MB='abc' is not a size in MiB; the cache is kept within the default 1024" ] &&
   [ "$(ls "$D/c4" | wc -l)" = 1 ]; then
    t_pass
else
    t_fail "expected exit 0, one warning and one cached trainer: exit $rc: $out; $(ls "$D/c4")"
fi
