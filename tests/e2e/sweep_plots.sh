#!/bin/bash
# End-to-end: the figures of `nnc sweep` (docs/sweep.md) fit for a report.
# A --set-only sweep (the same parameter count everywhere) leaves the
# constant axis out of parallel.png, so every line reaches the metric;
# lr's decades are a log axis; a three-way heat map's title is cut into
# lines and the figure made wide enough for them at the PDF's text size.
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh
D="$T_OUT/sweep_plots"
rm -rf "$D"
mkdir -p "$D"

t_begin "sweep-plots/set-only-parallel"
if ! t_run "$NNC" sweep examples/xor.nn --set lr=0.1,0.01,0.001 \
        --set 'optimizer=sgd(lr = 0.1),adam(lr = 0.01)' --out "$D/set" -- --epochs 1; then
    t_fail "the sweep failed"
elif [ "$(head -1 "$D/set/parallel.dat")" != "# lr(log10) optimizer test_accuracy_mean" ]; then
    t_fail "parallel.dat: expected lr (log10), optimizer and the metric only: $(head -1 "$D/set/parallel.dat")"
elif ! awk 'NR > 1 { if (NF != 3 || ($1 != -1 && $1 != -2 && $1 != -3)) bad = 1; n++ }
            END { exit bad || n != 6 }' "$D/set/parallel.dat"; then
    t_fail "expected 6 rows of log10(lr), the optimizer's index and the metric"
elif ! grep -q '^set xtics ("lr (log)" 1, "optimizer" 2, "test_accuracy" 3)' "$D/set/parallel.gp" ||
     ! grep -q '^set paxis 1 tics ("0.1" -1, "0.01" -2, "0.001" -3)' "$D/set/parallel.gp"; then
    t_fail "parallel.gp: expected the axes lr (log), optimizer, test_accuracy, lr's tics at its values"
elif command -v gnuplot >/dev/null && { [ -s "$D/set/plots.log" ] || [ ! -s "$D/set/parallel.png" ]; }; then
    t_fail "gnuplot failed on parallel.gp: $(cat "$D/set/plots.log" 2>/dev/null)"
else
    t_pass
fi

t_begin "sweep-plots/parallel-keeps-varying-params"
if ! t_run "$NNC" sweep examples/sweep.nn -D depth=0,1 -D width=1,2 --out "$D/arch" -- --epochs 1; then
    t_fail "the sweep failed"
elif [ "$(head -1 "$D/arch/parallel.dat")" != "# depth width params test_accuracy_mean" ]; then
    t_fail "parallel.dat: $(head -1 "$D/arch/parallel.dat")"
else
    t_pass
fi

t_begin "sweep-plots/heatmap-title-fits"
if ! t_run "$NNC" sweep examples/sweep.nn -D depth=1,2 -D width=1,3 --set lr=0.1,0.01 \
        --out "$D/three" -- --epochs 1; then
    t_fail "the sweep failed"
else
    g=$D/three/heatmap.gp
    longest=$(sed -n 's/^set title "\(.*\)"$/\1/p' "$g" | awk -F'\\\\n' '{ for (i = 1; i <= NF; i++) if (length($i) > m) m = length($i) } END { print m }')
    width=$(sed -n 's/.*pngcairo noenhanced size \([0-9]*\),.*/\1/p' "$g")
    if ! grep -q '^set title "sweep: test_accuracy\\nmean +- std over 1 repeat\\nand the other swept values"$' "$g"; then
        t_fail "heatmap.gp's title: $(grep '^set title' "$g")"
    elif [ -z "$width" ] || [ "$width" -lt $((13 * longest + 80)) ]; then
        t_fail "heatmap is $width pixels wide: too narrow for a title line of $longest characters"
    elif command -v gnuplot >/dev/null && { [ -s "$D/three/plots.log" ] || [ ! -s "$D/three/heatmap.png" ]; }; then
        t_fail "gnuplot failed on heatmap.gp: $(cat "$D/three/plots.log" 2>/dev/null)"
    else
        t_pass
    fi
fi
