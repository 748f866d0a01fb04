#!/bin/bash
# End-to-end: the plots of `train --log DIR` (docs/trainer.md, "Plots").
# A 2-D classifier gets curves.gp and boundary.gp with their data (the grid
# holds 200 x 200 predictions, the point files every sample); an
# autoencoder gets reconstructions.png, a valid PNG of the documented size
# written with libpng; gnuplot renders PNG and PDF where it is installed,
# and without it the scripts and data are still written, with one note.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/plots"
mkdir -p "$D"

is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }
is_pdf() { [ "$(head -c 4 "$1")" = "%PDF" ]; }
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ print $3 * 256 + $4 "x" $7 * 256 + $8 }'; }
rows() { grep -cv '^\(#\|$\)' "$1"; }   # data rows: not comments, not blank
have_gnuplot=0
command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1

t_begin "plots/build"
if t_build examples/xor.nn "$D/xor" && t_build examples/tiny_mlp.nn "$D/tiny_mlp" &&
   t_build tests/e2e/models/autoencoder.nn "$D/ae"; then t_pass; else t_fail "nnc build failed"; fi

# xor: one logit, a test set -> the P = 0.5 line over training and test points
t_begin "plots/boundary-data"
rm -rf "$D/xor-run"
t_run "$D/xor" train --epochs 2 --log "$D/xor-run"
r=$D/xor-run
if [ ! -f "$r/curves.gp" ] || [ ! -f "$r/boundary.gp" ]; then
    t_fail "expected curves.gp and boundary.gp in $r; got: $(ls "$r" | tr '\n' ' ')"
elif [ "$(rows "$r/boundary_grid.dat")" != 40000 ]; then
    t_fail "boundary_grid.dat has $(rows "$r/boundary_grid.dat") rows, expected 200 x 200 = 40000"
elif [ "$(rows "$r/boundary_train.dat")" != 1000 ] || [ "$(rows "$r/boundary_test.dat")" != 1000 ]; then
    t_fail "expected 1000 training and 1000 test points"
elif ! awk '!/^#/ && NF { if ($3 < 0 || $3 > 1) bad = 1 } END { exit bad }' "$r/boundary_grid.dat"; then
    t_fail "boundary_grid.dat: P(class 1) outside [0, 1]"
elif ! grep -q 'levels discrete 0.5' "$r/boundary.gp"; then
    t_fail "boundary.gp does not draw the P = 0.5 line"
else
    t_pass
fi

t_begin "plots/gnuplot-renders"
if [ $have_gnuplot = 0 ]; then
    t_skip "gnuplot is not installed (apt-get install gnuplot-nox)"
elif is_png "$r/curves.png" && is_png "$r/boundary.png" && is_pdf "$r/curves.pdf" &&
     is_pdf "$r/boundary.pdf" && [ ! -s "$r/plots.log" ]; then
    t_pass
else
    t_fail "expected curves and boundary as PNG and PDF, gnuplot silent; $(cat "$r/plots.log" 2>/dev/null)"
fi

t_begin "plots/scripts-rerun"   # the user's way: edit, then run gnuplot in the directory
if [ $have_gnuplot = 0 ]; then
    t_skip "gnuplot is not installed"
else
    rm -f "$r/boundary.png"
    if (cd "$r" && gnuplot boundary.gp) >>"$t_log" 2>&1 && is_png "$r/boundary.png"; then t_pass
    else t_fail "gnuplot boundary.gp in $r did not redraw boundary.png"; fi
fi

# tiny_mlp: regression on a 2-D input, no test set -> the output as a heat map
t_begin "plots/regression-surface"
rm -rf "$D/tiny-run"
t_run "$D/tiny_mlp" train --epochs 2 --log "$D/tiny-run"
r=$D/tiny-run
if [ "$(rows "$r/boundary_grid.dat" 2>/dev/null)" = 40000 ] && [ -f "$r/boundary_train.dat" ] &&
   [ ! -f "$r/boundary_test.dat" ] && grep -q 'output' "$r/boundary.gp"; then
    t_pass
else
    t_fail "expected the output surface over training points only; got: $(ls "$r" | tr '\n' ' ')"
fi

# autoencoder: x[8, 8] -> 16 test samples, 8 per row, each 8 px scaled 12x,
# 4 px gaps: 4 + 8 * (96 + 4) = 804 wide, 4 + 2 * (2 * 96 + 3 * 4) = 412 high
t_begin "plots/reconstructions"
rm -rf "$D/ae-run"
t_run "$D/ae" train --log "$D/ae-run"
r=$D/ae-run
if [ ! -f "$r/reconstructions.png" ]; then
    t_fail "no reconstructions.png in $r: $(ls "$r" | tr '\n' ' ')"
elif ! is_png "$r/reconstructions.png"; then
    t_fail "reconstructions.png lacks the PNG signature"
elif [ "$(png_size "$r/reconstructions.png")" != 804x412 ]; then
    t_fail "reconstructions.png is $(png_size "$r/reconstructions.png"), expected 804x412"
elif [ -f "$r/boundary.gp" ]; then
    t_fail "an autoencoder has no decision boundary, but boundary.gp was written"
else
    t_pass
fi

t_begin "plots/reconstructions-npz"
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    t_skip "no numpy in /usr/bin/python3"
elif t_run /usr/bin/python3 -c "
import numpy as np
z = np.load('$r/reconstructions.npz')
assert z['input'].shape == (16, 8, 8) and z['output'].shape == (16, 8, 8), (z['input'].shape, z['output'].shape)
assert np.isfinite(z['output']).all()"; then
    t_pass
else
    t_fail "reconstructions.npz: expected input and output of shape (16, 8, 8)"
fi

t_begin "plots/without-gnuplot"   # PATH without gnuplot: data and scripts, one note
rm -rf "$D/nognu" "$D/nognu-run"
mkdir -p "$D/nognu"
PATH="$D/nognu" "$D/xor" train --epochs 1 --log "$D/nognu-run" >"$D/nognu.out" 2>"$D/nognu.err"
r=$D/nognu-run
cat "$D/nognu.err" >>"$t_log"
if [ -f "$r/curves.png" ] || [ -f "$r/boundary.png" ]; then
    t_fail "PNG files were drawn without gnuplot on PATH"
elif [ ! -f "$r/curves.gp" ] || [ ! -f "$r/boundary_grid.dat" ]; then
    t_fail "the scripts and data should still be written"
elif [ "$(grep -c 'apt-get install gnuplot-nox' "$D/nognu.err")" != 1 ]; then
    t_fail "expected one note naming apt-get install gnuplot-nox; stderr: $(cat "$D/nognu.err")"
else
    t_pass
fi

t_begin "plots/no-plots"
rm -rf "$D/none-run"
t_run "$D/xor" train --epochs 1 --no-plots --log "$D/none-run"
if [ -f "$D/none-run/metrics.csv" ] && ! ls "$D/none-run"/*.gp >/dev/null 2>&1; then t_pass
else t_fail "--no-plots: expected metrics.csv and no scripts; got: $(ls "$D/none-run" | tr '\n' ' ')"; fi

# one epoch of mini-batches: the curve over updates comes from steps.csv
# (metrics.csv has two rows), the epochs on the top axis
t_begin "plots/curves-per-update"
rm -rf "$D/ae1-run"
t_run "$D/ae" train --epochs 1 --log "$D/ae1-run"
r=$D/ae1-run
if [ "$(grep -c . "$r/metrics.csv")" != 3 ] || [ "$(grep -c . "$r/steps.csv")" != 11 ]; then
    t_fail "expected 2 epoch rows in metrics.csv and 10 updates in steps.csv"
elif ! grep -q "plot 'steps.csv' using \"step\":(column(\"batch_loss\"))" "$r/curves.gp" ||
     ! grep -q "'metrics.csv' using \"step\":(column(\"loss\"))" "$r/curves.gp" ||
     ! grep -q '^set x2tics ("0" 0, "1" 10)' "$r/curves.gp"; then
    t_fail "curves.gp should draw steps.csv and metrics.csv over updates, epochs on top"
elif [ $have_gnuplot = 1 ] && { [ -s "$r/plots.log" ] || ! is_png "$r/curves.png"; }; then
    t_fail "gnuplot failed on curves.gp: $(cat "$r/plots.log" 2>/dev/null)"
else
    t_pass
fi

# reduce = sum over 200 training and 50 test samples and batches of 20:
# each curve divided by its number of samples, one scale for all three
t_begin "plots/curves-reduce-sum-per-sample"
rm -rf "$D/aesum-run"
t_run "$D/ae" train --epochs 2 --reduce sum --log "$D/aesum-run"
r=$D/aesum-run
if ! grep -q '^n_train = 200$' "$r/curves.gp" || ! grep -q '^n_test = 50$' "$r/curves.gp" ||
   ! grep -q '^batch = 20$' "$r/curves.gp" || ! grep -q 'column("loss") / n_train' "$r/curves.gp" ||
   ! grep -q 'column("test_loss") / n_test' "$r/curves.gp" ||
   ! grep -q 'column("batch_loss") / bsize(column("step"))' "$r/curves.gp" ||
   ! grep -q 'objective / samples' "$r/curves.gp"; then
    t_fail "curves.gp should divide each sum by its samples and say so"
elif [ $have_gnuplot = 1 ] && { [ -s "$r/plots.log" ] || ! is_png "$r/curves.png"; }; then
    t_fail "gnuplot failed on curves.gp: $(cat "$r/plots.log" 2>/dev/null)"
else
    t_pass
fi

# a model with a penalty: metrics.csv reports it apart (the loss columns
# include it), and the figure draws it on its own axis
t_begin "plots/penalty-column"
rm -rf "$D/pen-run"
if t_build tests/golden/sigmoid.nn "$D/sig" &&
   t_run "$D/sig" train --epochs 2 --batch 10 --data 'random(n = 40)' --test 'random(n = 20, seed = 2)' \
       --log "$D/pen-run"; then
    r=$D/pen-run
    # penalty = 1e-3 * sumsq(W2) at the literal W2 = [[0.7, 0.8], [0.9, 0.1]]: 0.00195
    if [ "$(head -1 "$r/metrics.csv")" != "epoch,step,loss,lr,test_loss,penalty,seconds,train_seconds" ]; then
        t_fail "metrics.csv's columns: $(head -1 "$r/metrics.csv")"
    elif ! awk -F, 'NR == 2 { d = $6 - 0.00195; exit !(d < 1e-9 && d > -1e-9) }' "$r/metrics.csv"; then
        t_fail "epoch 0's penalty should be 0.00195: $(sed -n 2p "$r/metrics.csv")"
    elif ! grep -q '"penalty": ' "$r/metrics.jsonl" || ! grep -q '"penalty" axes x1y2' "$r/curves.gp"; then
        t_fail "expected the penalty in metrics.jsonl and on curves.png's right axis"
    else
        t_pass
    fi
else t_fail "the run failed"; fi

# figures for a report: the reconstructions' rows labelled, a regression's
# points on white discs (coloured like the surface they would vanish)
t_begin "plots/reconstructions-labelled"
r=$D/ae1-run
if [ "$(grep -c '^set label "input" at' "$r/reconstructions_figure.gp")" != 2 ] ||
   [ "$(grep -c '^set label "output" at' "$r/reconstructions_figure.gp")" != 2 ]; then
    t_fail "expected the two rows of inputs and of outputs labelled in reconstructions_figure.gp"
elif [ $have_gnuplot = 1 ] && { [ -s "$r/plots.log" ] || ! is_png "$r/reconstructions_figure.png"; }; then
    t_fail "gnuplot failed on reconstructions_figure.gp: $(cat "$r/plots.log" 2>/dev/null)"
else
    t_pass
fi

t_begin "plots/regression-points-stand-out"
if grep -q "'boundary_train.dat' using 1:2 with points pt 7 ps 1.1 lc rgb 'white'" "$D/tiny-run/boundary.gp" &&
   grep -q "using 1:2:3 with points pt 7 ps 0.7 lc palette" "$D/tiny-run/boundary.gp"; then t_pass
else t_fail "boundary.gp should draw each point on a white disc"; fi

# the PDFs are sized for a report: text of 12 points on a page 1/144 in
# per pixel of the PNG (700 pixels: 4.86 in, 8 points at a 3.4 in column)
t_begin "plots/pdf-text-size"
if grep -q 'pdfcairo noenhanced size 4.86in,3.89in font "sans,12"' "$D/ae1-run/curves.gp"; then t_pass
else t_fail "curves.gp: $(grep pdfcairo "$D/ae1-run/curves.gp")"; fi
