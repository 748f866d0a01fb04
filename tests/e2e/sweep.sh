#!/bin/bash
# End-to-end: `nnc sweep` (docs/sweep.md) over examples/sweep.nn: 2 depths
# x 2 widths compiled once each, 2 learning rates as trainer flags, 3
# repeats, 2 jobs.  The table has one row per configuration in CSV and
# JSON, the standard deviations are sane, the parameter counts are the
# model's, and the plot scripts are written (and drawn where gnuplot is).
# The sweep runs with the C backend (a trainer per architecture in bin/)
# and, where nnc has LLVM, again with the JIT (runs forked from models
# compiled in memory): both give the same table to within float rounding.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/sweep"
rm -rf "$D"
mkdir -p "$D"

t_begin "sweep/runs"
runs_log=$t_log
if t_run "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --set lr=0.03,0.003 \
        --repeat 3 --jobs 2 --backend c --out "$D/s" -- --epochs 2; then
    t_pass
else
    t_fail "nnc sweep failed"
fi
r=$D/s

t_begin "sweep/builds-once-per-architecture"
n=$(ls "$r/bin" | grep -cv '\.log$')
if [ "$n" = 4 ]; then t_pass; else t_fail "expected 4 trainers in $r/bin, found $n"; fi

t_begin "sweep/results.csv"
rows=$(($(wc -l < "$r/results.csv") - 1))
header=$(head -n 1 "$r/results.csv")
case "$header" in
config,depth,width,lr,params,runs,failed,*test_loss_mean,test_loss_std*)
    if [ "$rows" = 8 ]; then t_pass; else t_fail "expected 8 configurations, got $rows rows"; fi ;;
*) t_fail "unexpected header: $header" ;;
esac

t_begin "sweep/std-sane"   # std >= 0 everywhere, > 0 somewhere (3 different seeds), runs = 3
if awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { if ($c["runs"] != 3 || $c["failed"] != 0) bad = 1
      s = $c["test_loss_std"]; if (s < 0 || s != s + 0) bad = 1; if (s > 0) pos = 1
      m = $c["test_loss_mean"]; if (m <= 0 || m > 5) bad = 1 }
    END { exit bad || !pos }' "$r/results.csv"; then
    t_pass
else
    t_fail "runs, failures, means or standard deviations out of range: $(cat "$r/results.csv")"
fi

t_begin "sweep/params"   # depth 0: 2 + 1 = 3; depth 1, width w: 2w + w + w + 1 = 4w + 1
got=$(awk -F, 'NR > 1 { printf "%s:%s:%s ", $2, $3, $5 }' "$r/results.csv")
want="0:1:3 0:1:3 0:3:3 0:3:3 1:1:5 1:1:5 1:3:13 1:3:13 "
if [ "$got" = "$want" ]; then t_pass; else t_fail "depth:width:params got '$got', expected '$want'"; fi

t_begin "sweep/runs.csv"
rows=$(($(wc -l < "$r/runs.csv") - 1))
seeds=$(awk -F, 'NR > 1 { print $5 }' "$r/runs.csv" | sort -u | tr '\n' ' ')
if [ "$rows" = 24 ] && [ "$seeds" = "1 2 3 " ]; then t_pass
else t_fail "expected 24 runs with seeds 1 2 3, got $rows rows, seeds '$seeds'"; fi

t_begin "sweep/hyperparameters-reach-the-trainer"
if grep -q 'lr = 0.003\|lr = 0.03' "$r"/runs/c01_*/seed1/settings.txt 2>/dev/null &&
   grep -q 'adam(lr = 0.003' "$r"/runs/c01_*/seed1/settings.txt; then
    t_pass
else
    t_fail "c01 (lr 0.003) trained with: $(grep optimizer "$r"/runs/c01_*/seed1/settings.txt)"
fi

t_begin "sweep/results.json"
if [ ! -x /usr/bin/python3 ]; then
    t_skip "no /usr/bin/python3 to parse JSON"
elif t_run /usr/bin/python3 -c "
import json, math
d = json.load(open('$r/results.json'))
c = d['configs']
assert len(c) == 8, len(c)
for x in c:
    m = x['metrics']['test_loss']
    assert len(m['values']) == 3 and x['runs'] == 3
    mean = sum(m['values']) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in m['values']) / 2)
    assert abs(mean - m['mean']) < 1e-6 and abs(sd - m['std']) < 1e-6, (m, mean, sd)
    assert set(x['values']) == {'depth', 'width', 'lr'}"; then
    t_pass
else
    t_fail "results.json does not match its own values"
fi

t_begin "sweep/table"
if grep -q '^depth  width  lr' "$runs_log" && grep -q '+-' "$r/results.txt"; then t_pass
else t_fail "no readable table on stdout / results.txt"; fi

t_begin "sweep/plots"
if [ ! -f "$r/parallel.gp" ] || [ ! -f "$r/heatmap.gp" ] || [ "$(grep -cv '^\(#\|$\)' "$r/heatmap.dat")" != 4 ]; then
    t_fail "expected parallel.gp, heatmap.gp and a 2 x 2 heatmap.dat"
elif ! command -v gnuplot >/dev/null; then
    t_skip "gnuplot is not installed: scripts written, not drawn"
elif [ "$(head -c 4 "$r/heatmap.png" | od -An -c | tr -d ' ')" = "211PNG" ] &&
     [ -s "$r/parallel.png" ] && [ ! -s "$r/plots.log" ]; then
    t_pass
else
    t_fail "gnuplot did not draw heatmap.png and parallel.png cleanly: $(cat "$r/plots.log" 2>/dev/null)"
fi

t_begin "sweep/heatmap-labels-readable"
# dark labels on the light (high) end of the palette, white on the dark end
if ! command -v gnuplot >/dev/null; then
    t_skip "gnuplot is not installed"
elif got=$(cd "$r" && { grep -E '^ *(stats|light\()' heatmap.gp; echo 'print light(STATS_max), light(STATS_min)'; } |
           gnuplot 2>&1) && [ "$got" = "1 0" ]; then
    t_pass
else
    t_fail "expected light(max) = 1 and light(min) = 0 in heatmap.gp, got '$got'"
fi

# the sweep's gnuplots draw a warm-up plot (plotter_warm) before their
# scripts: it must leave nothing behind, so the pictures are those a fresh
# `gnuplot NAME.gp` draws (the PDFs but their dates).  --jobs 5 with 4 runs:
# a core is free once all have started, so the warm-up is always sent
t_begin "sweep/plots-as-gnuplot-draws-them"
if ! command -v gnuplot >/dev/null; then
    t_skip "gnuplot is not installed"
elif ! t_run "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --jobs 5 \
        --out "$D/warm" -- --epochs 1; then
    t_fail "nnc sweep failed"
else
    rm -rf "$D/fresh"; mkdir -p "$D/fresh"
    cp "$D"/warm/*.gp "$D"/warm/*.dat "$D/fresh/"
    (cd "$D/fresh" && gnuplot parallel.gp && gnuplot heatmap.gp) >>"$t_log" 2>&1
    nodate() { grep -av CreationDate "$1"; }
    if [ -e "$D/warm/plots.log" ]; then
        t_fail "the warm-up left messages in plots.log: $(cat "$D/warm/plots.log")"
    elif cmp "$D/warm/parallel.png" "$D/fresh/parallel.png" >>"$t_log" 2>&1 &&
         cmp "$D/warm/heatmap.png" "$D/fresh/heatmap.png" >>"$t_log" 2>&1 &&
         { ! grep -q pdfcairo <(gnuplot -e 'print GPVAL_TERMINALS' 2>&1) ||
           { cmp <(nodate "$D/warm/parallel.pdf") <(nodate "$D/fresh/parallel.pdf") &&
             cmp <(nodate "$D/warm/heatmap.pdf") <(nodate "$D/fresh/heatmap.pdf"); } >>"$t_log" 2>&1; }; then
        t_pass
    else
        t_fail "the sweep's pictures differ from those of a fresh gnuplot on the same scripts"
    fi
fi

# csv_close A B TOL: the same header and rows; numbers (but the seconds
# columns) within TOL relative; text fields equal
csv_close() {
    awk -F, -v tol="$3" 'NR == FNR { row[FNR] = $0; n = FNR; next }
        FNR == 1 { for (i = 1; i <= NF; i++) skip[i] = $i ~ /seconds/ }
        { if (!(FNR in row)) bad = 1; split(row[FNR], a, ",")
          for (i = 1; i <= NF; i++) { if (skip[i]) continue
              if (a[i] "" == $i "") continue
              if (a[i] + 0 "" != a[i] "" && a[i] !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) { bad = 1; continue }
              d = a[i] - $i; if (d < 0) d = -d; s = a[i] < 0 ? -a[i] : a[i]
              if (d > tol * (s > 1e-2 ? s : 1e-2)) { bad = 1; print "row " FNR " field " i ": " a[i] " vs " $i } } }
        END { if (FNR != n) bad = 1; exit bad }' "$1" "$2"
}

t_begin "sweep/jit-same-as-c"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    # without LLVM, --backend jit must say so
    if ! "$NNC" sweep examples/sweep.nn --backend jit --out "$D/nojit" >"$D/nojit.txt" 2>&1 &&
       grep -q "no LLVM JIT" "$D/nojit.txt"; then
        t_skip "nnc was built without LLVM (install llvm-dev: scripts/deps.sh, then make)"
    else
        t_fail "without LLVM, nnc sweep --backend jit should fail saying so: $(cat "$D/nojit.txt")"
    fi
elif ! t_run "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --set lr=0.03,0.003 \
        --repeat 3 --jobs 2 --backend jit --out "$D/j" -- --epochs 2; then
    t_fail "nnc sweep --backend jit failed"
elif [ -n "$(ls "$D/j/bin" | grep -v '\.log$')" ]; then
    t_fail "the JIT sweep should build no trainers, found: $(ls "$D/j/bin")"
elif ! csv_close "$r/results.csv" "$D/j/results.csv" 1e-3 >>"$t_log" ||
     ! csv_close "$r/runs.csv" "$D/j/runs.csv" 1e-3 >>"$t_log"; then
    t_fail "results.csv / runs.csv of the JIT sweep differ from the C sweep's"
elif ! diff <(sed 's/[0-9.]*e*-*[0-9]* +- [0-9.]*//g' "$r/results.txt") \
            <(sed 's/[0-9.]*e*-*[0-9]* +- [0-9.]*//g' "$D/j/results.txt") >>"$t_log"; then
    t_fail "the JIT sweep's table is laid out differently"
else
    t_pass
fi

# the JIT's loop sleeps in poll() until a run exits (SIGCHLD) or a
# compilation ends (compile_thread): many short runs, three at a time,
# each drawing its own plots (a gnuplot child of the run, whose exit is
# the run's and must not be mistaken for one), must all be collected
# without a hang; a lost wake-up would leave it waiting for ever
t_begin "sweep/jit-many-short-runs"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    t_skip "nnc was built without LLVM"
elif ! t_run timeout 120 "$NNC" sweep examples/sweep.nn -D depth=0..1 -D width=1,3 --repeat 6 \
        --jobs 3 --plots --backend jit --out "$D/short" -- --epochs 1; then
    t_fail "nnc sweep failed or hung (exit status 124 is the timeout)"
elif [ "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ok") c = i; next }
                   $c == 1' "$D/short/runs.csv" | wc -l)" != 24 ]; then
    t_fail "expected 24 successful runs in runs.csv: $(cat "$D/short/runs.csv")"
else
    t_pass
fi

t_begin "sweep/bad-input"
out=$("$NNC" sweep examples/sweep.nn -D depth=3..1 2>&1); rc=$?
out2=$("$NNC" sweep examples/sweep.nn --set seed=1,2 2>&1); rc2=$?
out3=$("$NNC" sweep examples/sweep.nn --repeats 3 2>&1); rc3=$?
out4=$("$NNC" sweep examples/sweep.nn -D width=2,nan 2>&1); rc4=$?
if [ $rc = 2 ] && [ $rc2 = 2 ] && [ $rc3 = 2 ] && [ $rc4 = 2 ] && [[ $out == *"A <= B"* ]] &&
   [[ $out2 == *"--repeat"* ]] && [[ $out3 == *"did you mean '--repeat'"* ]] &&
   [[ $out4 == *"-D width: 'nan' is not a finite number"* ]]; then
    t_pass
else
    t_fail "expected clear errors (exit 2): '$out' '$out2' '$out3' '$out4'"
fi

t_begin "sweep/build-failure"   # a failed build stops the sweep: no run starts, exit 1
out=$(CC=false NNC_CACHE=off "$NNC" sweep examples/sweep.nn -D depth=0..1 --backend c --repeat 2 \
      --out "$D/ccfail" -- --epochs 1 2>&1); rc=$?
if [ $rc = 1 ] && [[ $out == *"building failed"* ]] && [ -z "$(find "$D/ccfail/runs" -type f)" ] &&
   [ ! -e "$D/ccfail/plots.log" ]; then   # the gnuplot started early is ended, its log removed
    t_pass
else
    t_fail "expected exit 1, 'building failed' and no run: exit $rc, $out"
fi

# a --metric no run can have is refused before any run; one that these runs
# do not have (accuracy of a regression) once they have run: the results are
# written, the plots are not, and the exit says so
t_begin "sweep/unknown-metric"
out=$("$NNC" sweep examples/sweep.nn --metric test_acuracy --out "$D/metric0" -- --epochs 1 2>&1); rc=$?
out2=$("$NNC" sweep examples/tiny_mlp.nn --metric accuracy --out "$D/metric" -- --epochs 1 2>&1); rc2=$?
echo "$out" "$out2" >>"$t_log"
if [ $rc != 2 ] || [[ $out != *"--metric test_acuracy: no run's metrics.csv has such a column (did you mean 'test_accuracy'?); the columns are epoch, step, loss"* ]] ||
   [ -e "$D/metric0" ]; then
    t_fail "a misspelt --metric: expected exit 2 before any run, naming the columns: exit $rc, $out"
elif [ $rc2 = 1 ] && [[ $out2 == *"--metric accuracy: the runs have no such column (they have loss"* ]] &&
   [ -f "$D/metric/results.csv" ] && [ ! -e "$D/metric/plots.log" ] && [ ! -e "$D/metric/parallel.png" ]; then
    t_pass
else
    t_fail "expected exit 1 naming the columns, and results.csv: exit $rc2, $out2"
fi

# gnuplot starts with the sweep and gets its script at the end: one that
# dies first is a warning, never a crash of nnc (SIGPIPE) or a hang
t_begin "sweep/gnuplot-dies-early"
mkdir -p "$D/fakebin"
printf '#!/bin/sh\nexit 3\n' >"$D/fakebin/gnuplot"
chmod +x "$D/fakebin/gnuplot"
out=$(PATH="$D/fakebin:$PATH" "$NNC" sweep examples/sweep.nn -D depth=0..1 --out "$D/gpdies" \
      -- --epochs 1 2>&1); rc=$?
if [ $rc = 0 ] && [[ $out == *"warning: gnuplot failed on $D/gpdies/parallel.gp"* ]] &&
   [ -f "$D/gpdies/results.csv" ]; then
    t_pass
else
    t_fail "expected exit 0, results.csv and a warning: exit $rc, $out"
fi

# --jobs J: each run gets CPUs / J threads (at least 1), which its config.json
# records; with one job, or when the user set the threads, nothing is imposed
t_begin "sweep/threads-per-job"
ncpu=$(getconf _NPROCESSORS_ONLN)
cap() { echo $(($1 > 8 ? 8 : $1)); }   # the runtime's at most 8 (common_par.c)
per=$(cap $((ncpu / 2 > 1 ? ncpu / 2 : 1))); ncpu=$(cap "$ncpu")
threads() { sed -n 's/^  "threads": \([0-9]*\).*/\1/p' "$D/$1"/runs/*/seed*/config.json | sort -u | tr '\n' ' '; }
clean="env -u NNRT_THREADS -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS"
t_run $clean "$NNC" sweep examples/sweep.nn --repeat 2 --jobs 2 --out "$D/thr2" -- --epochs 1
t_run $clean "$NNC" sweep examples/sweep.nn --repeat 1 --jobs 1 --out "$D/thr1" -- --epochs 1
t_run $clean NNRT_THREADS=3 "$NNC" sweep examples/sweep.nn --repeat 2 --jobs 2 --out "$D/thr3" -- --epochs 1
got="$(threads thr2)/ $(threads thr1)/ $(threads thr3)/"
want="$per / $ncpu / 3 /"
if [ "$got" = "$want" ]; then t_pass; else t_fail "threads per run (jobs 2, jobs 1, NNRT_THREADS=3): got '$got', expected '$want'"; fi

# Run workers (docs/sweep.md): with the JIT, a few forked processes run the
# runs one after another instead of a fork per run.  Every run must give the
# same bits as in a process of its own (NNC_SWEEP_WORKERS=off): its
# metrics.csv but the timing columns, and params.npz, in float32 and
# float64, with hyperparameters from --set; and far fewer processes are
# forked (NNC_SWEEP_FORKS=1 prints how many)
untimed() {   # metrics.csv without its timing columns
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) skip[i] = $i ~ /seconds$/ }
             { s = ""; for (i = 1; i <= NF; i++) if (!skip[i]) s = s (s == "" ? "" : ",") $i; print s }' "$1"
}
same_runs() {   # same_runs A B: every run of sweep A has the bits of B's; prints the differences
    local n=0 m r
    for m in "$1"/runs/*/seed*/metrics.csv; do
        r=${m#"$1"/}; r=${r%/metrics.csv}; n=$((n + 1))
        cmp -s <(untimed "$m") <(untimed "$2/$r/metrics.csv") || echo "metrics.csv differs: $r"
        cmp -s "$1/$r/params.npz" "$2/$r/params.npz" || echo "params.npz differs: $r"
    done
    [ "$n" = "$(ls -d "$2"/runs/*/seed* | wc -l)" ] || echo "$1 has $n runs, $2 others"
}
forks() { sed -n 's/^nnc sweep: [0-9]* runs in \([0-9]*\) forked processes$/\1/p' "$1"; }
t_begin "sweep/workers-same-bits"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    t_skip "nnc was built without LLVM"
else
    bad=""
    for dtype in f32 f64; do
        for w in on off; do
            echo "\$ NNC_SWEEP_WORKERS=$w nnc sweep ... --dtype $dtype" >>"$t_log"
            NNC_SWEEP_WORKERS=$w NNC_SWEEP_FORKS=1 "$NNC" sweep examples/sweep.nn -D depth=0..2 \
                -D width=1,3 --set 'optimizer=sgd(lr = 0.3, momentum = 0.9),adam(lr = 0.01)' \
                --repeat 2 --jobs 2 --dtype $dtype --out "$D/wk-$dtype-$w" -- --epochs 3 \
                >/dev/null 2>"$D/wk-$dtype-$w.err" || bad="$bad; the $dtype sweep ($w) failed"
            cat "$D/wk-$dtype-$w.err" >>"$t_log"
        done
        diffs=$(same_runs "$D/wk-$dtype-on" "$D/wk-$dtype-off")
        [ -z "$diffs" ] || bad="$bad; $dtype: $diffs"
        on=$(forks "$D/wk-$dtype-on.err"); off=$(forks "$D/wk-$dtype-off.err")
        [ -n "$on" ] && [ "$on" -le 6 ] && [ "$off" = 24 ] ||
            bad="$bad; $dtype: expected at most 6 forks with workers and 24 without, got '$on' and '$off'"
    done
    if [ -z "$bad" ]; then t_pass; else t_fail "${bad#; }"; fi
fi

# Under the sanitizers no run is forked while an architecture compiles in
# a thread (a lock the thread held stays locked in the child, which does not
# exec: a sweep under make asan hung in a run's first malloc).
# NNC_SWEEP_FORK_SAFE=1 asks for it here: six architectures compiled two at a
# time (an empty compile cache: each takes a while), no fork while one
# compiles, and the runs have the bits of the
# sweep above (which forks as soon as an architecture is ready)
t_begin "sweep/no-fork-while-compiling"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    t_skip "nnc was built without LLVM"
else
    echo "\$ NNC_SWEEP_FORK_SAFE=1 nnc sweep ..." >>"$t_log"
    NNC_CACHE_DIR="$D/wk-safe-cache" NNC_SWEEP_FORK_SAFE=1 NNC_SWEEP_FORKS=1 timeout 300 "$NNC" sweep examples/sweep.nn -D depth=0..2 \
        -D width=1,3 --set 'optimizer=sgd(lr = 0.3, momentum = 0.9),adam(lr = 0.01)' \
        --repeat 2 --jobs 2 --out "$D/wk-safe" -- --epochs 3 >/dev/null 2>"$D/wk-safe.err"; rc=$?
    cat "$D/wk-safe.err" >>"$t_log"
    diffs=$(same_runs "$D/wk-safe" "$D/wk-f32-on")
    if [ $rc = 0 ] && [ -z "$diffs" ] &&
            grep -q "^nnc sweep: 0 forked while an architecture compiled (none may" "$D/wk-safe.err"
    then t_pass
    else t_fail "exit $rc; $diffs $(grep forked "$D/wk-safe.err")"; fi
fi

# A run that fails in the middle of a worker's sequence is reported as
# failed, and the later runs succeed: one that diverges (exit 1, the
# worker goes on) and one whose worker is killed (exit 137, the status
# from waitpid; a new worker takes the later runs)
t_begin "sweep/workers-failed-run"
if ! "$NNC" --emit=llvm examples/xor.nn >/dev/null 2>&1; then
    t_skip "nnc was built without LLVM"
else
    NNC_SWEEP_FORKS=1 "$NNC" sweep examples/sweep.nn -D depth=1 --set lr=0.1,1e38,0.1 --repeat 2 \
        --jobs 1 --out "$D/wkfail" -- --epochs 2 >/dev/null 2>"$D/wkfail.err"; rc=$?
    NNC_SWEEP_FORKS=1 "$NNC" sweep examples/sweep.nn -D depth=1 --set epochs=2,1000000,2 \
        --jobs 1 --out "$D/wkkill" >/dev/null 2>"$D/wkkill.err" & pid=$!
    long="$D/wkkill/runs/c01_depth1_epochs1000000/seed1/metrics.csv"
    for i in $(seq 300); do   # until the long run has trained an epoch (at most 30 s)
        [ "$(wc -l 2>/dev/null <"$long")" -ge 2 ] 2>/dev/null && break
        sleep 0.1
    done
    worker=$(ps -o pid=,comm= --ppid $pid | awk '$2 == "nnc" { print $1 }')
    echo "killing the worker '$worker'" >>"$t_log"
    if [ -n "$worker" ]; then kill -KILL $worker; else kill $pid; fi   # no worker: never hang
    wait $pid; rc2=$?
    cat "$D/wkfail.err" "$D/wkkill.err" >>"$t_log"
    ok() { grep -c "seed [12]: test_loss" "$1"; }
    if [ $rc != 0 ] || [ "$(grep -c 'lr=1e38 seed [12]: FAILED (exit 1; see' "$D/wkfail.err")" != 2 ] ||
       [ "$(ok "$D/wkfail.err")" != 4 ] || [ "$(forks "$D/wkfail.err")" != 1 ]; then
        t_fail "expected lr=1e38 to fail twice (exit 1) and the 4 other runs to succeed, in one worker"
    elif [ $rc2 != 0 ] || ! grep -q "epochs=1000000 seed 1: FAILED (exit 137; see" "$D/wkkill.err" ||
         [ "$(ok "$D/wkkill.err")" != 2 ] || [ "$(forks "$D/wkkill.err")" != 2 ]; then
        t_fail "expected the killed run to fail (exit 137) and the 2 others to succeed, in two workers"
    else
        t_pass
    fi
fi
