#!/bin/bash
# End-to-end: data-parallel training and sweeps under mpirun
# (docs/distributed.md), on this machine's cores (--oversubscribe).
#
#   - a trainer run alone does not load MPI; started as a rank without the
#     plugin it says so
#   - `mpirun -np 2` and `-np 3` (shares of 10, 11 and 11 of a batch of 32)
#     train examples/sweep.nn (shuffled mini-batches, adam, a test set,
#     accuracy) to the single process's losses within a relative 1e-5 at
#     every epoch (float32: the shares' sums are added in another order)
#     and its accuracies within 0.002 (two samples of 1000)
#   - two runs with -np 3 are bit-identical (parameters and losses)
#   - a run stopped and resumed with -np 2 ends with the uninterrupted
#     run's parameters, bit for bit; resuming it with -np 3 is refused
#   - a rank that fails, or is killed, ends the whole job with an error,
#     within seconds; Ctrl-C (SIGINT) seen by one rank stops every rank
#     after the same update, and rank 0 saves the run as a stop should
#   - eval under mpirun prints once, the single process's numbers
#   - batch norm (BatchNorm2d and 1d, float64) with -np 2 and -np 3, the
#     C trainer and the JIT: the single process's parameters and running
#     statistics to rounding, also with empty shares; bit-identical runs;
#     resume; grad and eval --mode train
#   - `mpirun nnc sweep` (JIT, and -np 3 with the C backend) writes the
#     one-process sweep's table, a failing run reported as there; --mpi
#     without mpirun is an error
# Under CI=true a missing mpirun is a failure, elsewhere the tests skip.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/mpi"
rm -rf "$D"
mkdir -p "$D"
# as root, Open MPI wants to be told; two cores: more ranks than cores
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN="timeout 120 mpirun --oversubscribe"

if ! command -v mpirun >/dev/null 2>&1 || [ ! -f "$(dirname "$NNC")/runtime/nnrt-mpi.so" ]; then
    t_begin "mpi/available"
    if [ "${CI:-}" = true ]; then
        t_fail "mpirun or runtime/nnrt-mpi.so is missing (scripts/deps.sh installs Open MPI, then make)"
    else
        t_skip "no mpirun or no MPI plugin: install openmpi-bin and libopenmpi-dev (scripts/deps.sh), then make"
    fi
    exit 0
fi

t_begin "mpi/build"
if t_build examples/sweep.nn "$D/sweep" && t_build examples/tiny_mlp.nn "$D/tiny"; then t_pass
else t_fail "nnc build failed"; fi
T=(train --epochs 3 --quiet)

t_begin "mpi/not-loaded-alone"   # no libmpi in a trainer run alone
if LD_DEBUG=files "$D/tiny" train --epochs 1 --quiet >"$D/ld.txt" 2>&1 &&
        ! grep -q "libmpi\|nnrt-mpi" "$D/ld.txt"; then
    t_pass
else
    t_fail "a trainer run alone loaded MPI: $(grep -m3 'libmpi\|nnrt-mpi' "$D/ld.txt")"
fi

t_begin "mpi/no-plugin"   # a rank without the plugin: a clear error, not a single-process run
if OMPI_COMM_WORLD_SIZE=2 NNRT_MPI_PLUGIN=/nonexistent/nnrt-mpi.so "$D/tiny" train --epochs 1 \
        >"$D/noplugin.txt" 2>&1; then
    t_fail "a rank without its MPI plugin trained anyway"
elif grep -q "MPI plugin cannot be loaded" "$D/noplugin.txt"; then
    t_pass
else
    t_fail "unexpected message: $(cat "$D/noplugin.txt")"
fi

t_run "$D/sweep" "${T[@]}" --log "$D/np1"
# every epoch's loss, test_loss and accuracies of run $1 against np1's
close_to_np1() {
    awk -F, 'NR == FNR { for (i = 1; i <= NF; i++) a[FNR, i] = $i; next }
        FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { n++
          split("loss test_loss", L, " "); split("accuracy test_accuracy", A, " ")
          for (k in L) { x = a[FNR, c[L[k]]]; y = $c[L[k]]; d = x - y; if (d < 0) d = -d
                         if (d > 1e-5 * (x < 0 ? -x : x)) bad = 1 }
          for (k in A) { d = a[FNR, c[A[k]]] - $c[A[k]]; if (d < 0) d = -d; if (d > 0.002) bad = 1 } }
        END { exit bad || n != 4 }' "$D/np1/metrics.csv" "$1/metrics.csv"
}
for np in 2 3; do
    t_begin "mpi/np$np-equals-one-process"
    if ! t_run $MPIRUN -np $np "$D/sweep" "${T[@]}" --log "$D/np$np"; then
        t_fail "mpirun -np $np failed"
    elif close_to_np1 "$D/np$np"; then
        t_pass
    else
        t_fail "-np $np: $(cat "$D/np$np/metrics.csv") against one process: $(cat "$D/np1/metrics.csv")"
    fi
done

t_begin "mpi/deterministic"   # -np 3 twice: the same bits
t_run $MPIRUN -np 3 "$D/sweep" "${T[@]}" --log "$D/np3b"
if cmp -s "$D/np3/params.npz" "$D/np3b/params.npz" &&
        [ "$(cut -d, -f1-7 "$D/np3/metrics.csv")" = "$(cut -d, -f1-7 "$D/np3b/metrics.csv")" ]; then
    t_pass
else
    t_fail "two runs with -np 3 differ: $(cut -d, -f1-7 "$D/np3/metrics.csv" "$D/np3b/metrics.csv")"
fi

t_begin "mpi/only-rank-0-writes"   # one epoch line per epoch on stdout, the run's files
# (stdout alone: mpirun's own messages on stderr may land inside a line)
$MPIRUN -np 2 "$D/sweep" train --epochs 3 --log "$D/np2o" >"$D/np2o.txt" 2>"$D/np2o.err"
n=$(grep -c '^epoch' "$D/np2o.txt")
if [ "$n" = 4 ] && [ -f "$D/np2o/params.npz" ] && [ -f "$D/np2o/summary.json" ]; then t_pass
else t_fail "expected 4 epoch lines and the run's files, got $n lines: $(cat "$D/np2o.txt" "$D/np2o.err")"; fi

t_begin "mpi/resume"   # stopped after 1 epoch, resumed: the uninterrupted run's parameters
t_run $MPIRUN -np 2 "$D/sweep" "${T[@]}" --log "$D/res" --stop-after 1
t_run $MPIRUN -np 3 "$D/sweep" train --resume "$D/res" --quiet
refused=$?
t_run $MPIRUN -np 2 "$D/sweep" train --resume "$D/res" --quiet
if [ "$refused" = 0 ] || ! grep -q "trained by 2 processes; resume it with as many" "$t_log"; then
    t_fail "resuming a run of 2 ranks with 3 should be refused, saying why"
elif cmp -s "$D/res/params.npz" "$D/np2/params.npz"; then
    t_pass
else
    t_fail "the resumed run's parameters differ from the uninterrupted run's"
fi

t_begin "mpi/failing-rank"   # rank 1 cannot read its data: the job ends, with the error
t_run $MPIRUN -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
    exec "$0" train --data /nonexistent.npz --quiet; else exec "$0" train --epochs 100000 --quiet; fi' \
    "$D/sweep"
rc=$?
if [ "$rc" = 124 ]; then
    t_fail "the job did not end (killed by timeout)"
elif [ "$rc" != 0 ] && grep -q "/nonexistent.npz: cannot open" "$t_log"; then
    t_pass
else
    t_fail "expected an error exit naming the missing file, got exit $rc"
fi

t_begin "mpi/killed-rank"   # rank 1 killed while training: the job ends, not waits
t_run $MPIRUN -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then
    exec timeout -s KILL 1 "$0" train --epochs 100000 --quiet; else exec "$0" train --epochs 100000 --quiet; fi' \
    "$D/sweep"
rc=$?
if [ "$rc" = 124 ]; then t_fail "the job did not end (killed by timeout)"
elif [ "$rc" != 0 ]; then t_pass
else t_fail "a job with a killed rank exited 0"; fi

t_begin "mpi/ctrl-c-one-rank"   # SIGINT to rank 1 alone: both stop after the same update
t_run $MPIRUN -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then (sleep 2; kill -INT $$) & fi
    exec "$0" train --epochs 100000 --quiet --log "$1"' "$D/sweep" "$D/int"
rc=$?
if [ "$rc" = 130 ] && grep -q '"status": "interrupted"' "$D/int/summary.json" &&
        [ -f "$D/int/checkpoint.npz" ]; then
    t_pass
else
    t_fail "expected exit 130 and rank 0's interrupted run with its checkpoint, got exit $rc"
fi

t_begin "mpi/eval"   # printed once; the loss of the single process to 1e-5
"$D/sweep" eval --params "$D/np1/params.npz" >"$D/eval1.txt" 2>/dev/null
$MPIRUN -np 3 "$D/sweep" eval --params "$D/np1/params.npz" >"$D/eval3.txt" 2>/dev/null
if [ "$(grep -c '^loss' "$D/eval3.txt")" = 1 ] &&
        awk 'NR == FNR && /^loss/ { a = $2; next } /^loss/ { d = a - $2; if (d < 0) d = -d
             exit !(d <= 1e-5 * a) }' "$D/eval1.txt" "$D/eval3.txt"; then
    t_pass
else
    t_fail "eval: $(cat "$D/eval3.txt") against $(cat "$D/eval1.txt")"
fi

# Data a rank only evaluates (eval's, and train's --test) is read in shares:
# of an .npy file or a stored .npz member each rank reads its rows only,
# seeking past the others (NNRT_MPI_STATS=1 has every rank say what it
# read); a deflated member is read whole by every rank.  The numbers are the
# single process's.  Rank 1's rows of the test set hold NaN where rank 0
# would see them if it read them; rank 1's own check of its rows finds them.
/usr/bin/python3 - "$D" <<'PY'
import sys, numpy as np
d = sys.argv[1]
rng = np.random.default_rng(1)
x = rng.uniform(-1, 1, (1000, 2)).astype(np.float32)
y = (np.sin(3 * x[:, :1]) * np.cos(2 * x[:, 1:])).astype(np.float32)
np.savez(d + "/ev.npz", x=x, y=y)
np.savez_compressed(d + "/evz.npz", x=x, y=y)
np.save(d + "/ex.npy", x)
np.save(d + "/ey.npy", y)
xb = x.copy(); xb[500:] = np.nan          # rank 1's share of 2
np.save(d + "/exnan.npy", xb)
PY
# the bytes rank R (of N) read in a run's stderr
# (anywhere in a line: mpirun forwards the ranks' stderr, and two ranks'
# lines have been seen run together)
read_by() { grep -o "mpi: rank $1 of $2 read [0-9]* bytes" "$3" | sed 's/.* read \([0-9]*\) bytes/\1/'; }
t_begin "mpi/eval-reads-its-share"   # 12,000 bytes of data: each of 2 ranks reads its 6,000
"$D/tiny" eval --data "$D/ev.npz" >"$D/ev1.txt" 2>/dev/null
ok=1
for src in "$D/ev.npz" "files(x = \"$D/ex.npy\", y = \"$D/ey.npy\")"; do
    NNRT_MPI_STATS=1 $MPIRUN -np 2 "$D/tiny" eval --data "$src" >"$D/ev2.txt" 2>"$D/ev2.err" || ok=0
    for r in 0 1; do
        b=$(read_by $r 2 "$D/ev2.err")
        # its half of the values and a few reads of the two 128-byte headers
        [ -n "$b" ] && [ "$b" -ge 6000 ] && [ "$b" -le 7000 ] || ok=0
    done
    awk 'NR == FNR && /^loss/ { a = $2; next } /^loss/ { d = a - $2; if (d < 0) d = -d
         exit !(d <= 1e-5 * a) }' "$D/ev1.txt" "$D/ev2.txt" || ok=0
    cat "$D/ev2.err" >>"$t_log"
done
if [ $ok = 1 ]; then t_pass
else t_fail "each rank read more than its share, or another loss: $(cat "$D/ev2.err" "$D/ev2.txt" "$D/ev1.txt")"; fi

t_begin "mpi/eval-deflated-read-whole"   # np.savez_compressed: every rank inflates it all
if NNRT_MPI_STATS=1 $MPIRUN -np 2 "$D/tiny" eval --data "$D/evz.npz" >"$D/evz.txt" 2>"$D/evz.err" &&
        [ "$(read_by 1 2 "$D/evz.err")" -gt 0 ] &&
        [ "$(read_by 1 2 "$D/evz.err")" = "$(read_by 0 2 "$D/evz.err")" ] &&
        [ "$(grep '^loss' "$D/evz.txt")" = "$(grep '^loss' "$D/ev2.txt")" ]; then
    t_pass
else
    t_fail "$(cat "$D/evz.err" "$D/evz.txt")"
fi

t_begin "mpi/test-set-read-in-shares"   # train's --test: rank 0 never reads rank 1's NaN rows
if $MPIRUN -np 2 "$D/tiny" train --epochs 1 --quiet --data "$D/ev.npz" \
        --test "files(x = \"$D/exnan.npy\", y = \"$D/ey.npy\")" >"$D/tn.txt" 2>&1; then
    t_fail "rank 1 took NaN in its share of the test set: $(cat "$D/tn.txt")"
elif grep -q "exnan.npy: the array holds nan at sample 500" "$D/tn.txt"; then
    t_pass
else
    t_fail "expected rank 1 to refuse its first row, sample 500: $(cat "$D/tn.txt")"
fi

t_begin "mpi/test-set-whole-for-plots"   # rank 0 draws every test point of --log DIR's plots
if $MPIRUN -np 2 "$D/tiny" train --epochs 1 --quiet --data "$D/ev.npz" --test "$D/ev.npz" \
        --log "$D/tplot" >"$D/tp.txt" 2>&1 && "$D/tiny" train --epochs 1 --quiet \
        --data "$D/ev.npz" --test "$D/ev.npz" --log "$D/tplot1" >>"$D/tp.txt" 2>&1 &&
        [ -s "$D/tplot1/boundary_test.dat" ] &&
        cmp -s "$D/tplot/boundary_test.dat" "$D/tplot1/boundary_test.dat"; then
    t_pass
else
    t_fail "the test points drawn under mpirun differ from one process's: $(cat "$D/tp.txt")"
fi

# Batch norm: each rank normalises its share by the whole batch's statistics,
# exchanged in the pass, so the run is the single process's to float64
# rounding, the running statistics the same on every rank (rank 0 saves
# them).  bn_maps.nn is BatchNorm2d (15 samples in batches of 6, 6 and 3:
# -np 2 and -np 3 share each unevenly), bn_mlp.nn BatchNorm1d in batches of
# 2 (-np 3: one rank's share is always empty, and the last batch of 1 leaves
# two ranks empty); the C trainer and the JIT.
/usr/bin/python3 - "$D" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(11)
x = rng.standard_normal((21, 3)) * [1, 2, 0.5] + [0.5, -1, 2]
np.savez(sys.argv[1] + "/bnmlp.npz", x=x, y=np.stack([x[:, 0] * x[:, 1], np.sin(x[:, 2])], 1))
x = rng.standard_normal((15, 2, 3, 3)) + 0.3
np.savez(sys.argv[1] + "/bnmaps.npz", x=x, y=x.reshape(15, -1).sum(1, keepdims=True) / 6)
PY
# the parameter files $2... equal $1's to float64 rounding
close_params() {
    /usr/bin/python3 - "$@" >>"$t_log" 2>&1 <<'PY'
import sys, numpy as np
a = np.load(sys.argv[1])
for f in sys.argv[2:]:
    b = np.load(f)
    assert sorted(a.files) == sorted(b.files), (f, a.files, b.files)
    for k in a.files:
        assert np.allclose(a[k], b[k], rtol=1e-11, atol=1e-13), (f, k, a[k], b[k])
        print(f, k, "max abs diff %.1e" % np.abs(a[k] - b[k]).max())
PY
}
t_begin "mpi/batchnorm-build"
if t_build tests/e2e/models/bn_maps.nn "$D/bnmaps" --dtype f64 &&
   t_build tests/e2e/models/bn_mlp.nn "$D/bnmlp" --dtype f64; then t_pass
else t_fail "nnc build failed"; fi
BM=(train --data "$D/bnmaps.npz" --epochs 3 --quiet)
BL=(train --data "$D/bnmlp.npz" --batch 2 --quiet)
t_run "$D/bnmaps" "${BM[@]}" --save "$D/bnmaps1.npz"
t_run "$D/bnmlp" "${BL[@]}" --save "$D/bnmlp1.npz"
for np in 2 3; do
    t_begin "mpi/batchnorm-np$np-equals-one-process"
    if t_run $MPIRUN -np $np "$D/bnmaps" "${BM[@]}" --log "$D/bnmaps$np" &&
       t_run $MPIRUN -np $np "$D/bnmlp" "${BL[@]}" --save "$D/bnmlp$np.npz" &&
       close_params "$D/bnmaps1.npz" "$D/bnmaps$np/params.npz" && close_params "$D/bnmlp1.npz" "$D/bnmlp$np.npz"
    then t_pass
    else t_fail "-np $np: batch norm's run differs from the single process's"; fi
done

t_begin "mpi/batchnorm-jit-np3"   # nnc run: the JIT's kernel exchanges through nnrt_main's MPI
if t_run $MPIRUN -np 3 "$NNC" run tests/e2e/models/bn_mlp.nn --dtype f64 -- "${BL[@]}" --save "$D/bnjit3.npz" &&
   close_params "$D/bnmlp1.npz" "$D/bnjit3.npz"
then t_pass
else t_fail "the JIT's batch norm under mpirun -np 3 differs from the single process's"; fi

t_begin "mpi/batchnorm-deterministic"   # -np 3 twice: the same bits
if t_run $MPIRUN -np 3 "$D/bnmaps" "${BM[@]}" --log "$D/bnmaps3b" &&
   cmp -s "$D/bnmaps3/params.npz" "$D/bnmaps3b/params.npz" &&
   [ "$(cut -d, -f1-4 "$D/bnmaps3/metrics.csv")" = "$(cut -d, -f1-4 "$D/bnmaps3b/metrics.csv")" ]
then t_pass
else t_fail "two runs with -np 3 differ"; fi

t_begin "mpi/batchnorm-resume"   # stopped after 1 epoch, resumed: the uninterrupted run's bits
if t_run $MPIRUN -np 2 "$D/bnmaps" "${BM[@]}" --log "$D/bnres" --stop-after 1 &&
   t_run $MPIRUN -np 2 "$D/bnmaps" train --resume "$D/bnres" --quiet &&
   cmp -s "$D/bnres/params.npz" "$D/bnmaps2/params.npz"
then t_pass
else t_fail "the resumed run's parameters differ from the uninterrupted run's"; fi

t_begin "mpi/batchnorm-grad-eval-train-mode"   # all of D as one batch, in shares of 5
"$D/bnmaps" grad --params "$D/bnmaps1.npz" --data "$D/bnmaps.npz" --mode train --out "$D/bng1.npz" 2>>"$t_log"
"$D/bnmaps" eval --params "$D/bnmaps1.npz" --data "$D/bnmaps.npz" --mode train >"$D/bne1.txt" 2>>"$t_log"
if t_run $MPIRUN -np 3 "$D/bnmaps" grad --params "$D/bnmaps1.npz" --data "$D/bnmaps.npz" --mode train \
        --out "$D/bng3.npz" &&
   $MPIRUN -np 3 "$D/bnmaps" eval --params "$D/bnmaps1.npz" --data "$D/bnmaps.npz" --mode train \
        >"$D/bne3.txt" 2>>"$t_log" &&
   close_params "$D/bng1.npz" "$D/bng3.npz" &&
   awk 'NR == FNR && /^loss/ { a = $2; next } /^loss/ { d = a - $2; if (d < 0) d = -d
        exit !(d <= 1e-12 * a) }' "$D/bne1.txt" "$D/bne3.txt"
then t_pass
else t_fail "grad or eval --mode train under -np 3: $(cat "$D/bne3.txt") against $(cat "$D/bne1.txt")"; fi

# sweeps: the one-process table, from the ranks' runs
S=(sweep examples/sweep.nn -D depth=0..1 --set lr=0.03,0.003 --set epochs=2,-1 --repeat 2)
t_begin "mpi/sweep"
if t_run "$NNC" "${S[@]}" --out "$D/s1" && t_run $MPIRUN -np 2 "$NNC" "${S[@]}" --mpi --out "$D/s2"; then
    if cmp -s "$D/s1/results.txt" "$D/s2/results.txt" && grep -q "8 runs failed" "$D/s2/results.txt"
    then t_pass
    else t_fail "the tables differ: $(diff "$D/s1/results.txt" "$D/s2/results.txt")"; fi
else
    t_fail "nnc sweep failed"
fi

t_begin "mpi/sweep-resume"   # again with --resume: the finished runs kept, the same table
if t_run $MPIRUN -np 2 "$NNC" "${S[@]}" --resume --out "$D/s2" &&
        [ "$(grep -c 'finished before' "$t_log")" = 8 ] && cmp -s "$D/s1/results.txt" "$D/s2/results.txt"
then t_pass
else t_fail "expected the 8 finished runs kept and the same table"; fi

t_begin "mpi/sweep-mpi-flag"   # --mpi without mpirun: an error saying how to start it
if "$NNC" "${S[@]}" --mpi --out "$D/s0" >"$D/s0.txt" 2>&1; then
    t_fail "nnc sweep --mpi without mpirun ran"
elif grep -q "run it as mpirun -np N nnc sweep" "$D/s0.txt"; then
    t_pass
else
    t_fail "unexpected message: $(cat "$D/s0.txt")"
fi

t_begin "mpi/sweep-c-backend-np3"   # each rank builds what it runs, in bin/rankN
if t_run $MPIRUN -np 3 "$NNC" "${S[@]}" --backend c --out "$D/s3" &&
        cmp -s "$D/s1/results.txt" "$D/s3/results.txt"; then
    t_pass
else
    t_fail "the table differs from the one-process sweep's: $(diff "$D/s1/results.txt" "$D/s3/results.txt")"
fi
