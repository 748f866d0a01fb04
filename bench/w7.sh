# w7.sh - `make bench`'s W7 section: an Elman RNN over the 28 rows of
# Fashion-MNIST images (bench/models/w7.nn), nnc against PyTorch 1.13's loop
# over time written out and its nn.RNN (bench/torch/w7.py), both on 2
# threads with denormals flushed.  Sourced by bench/run.sh (uses its say,
# stats, row5, secs_col, R and B); `ONLY=w7 make bench` runs it alone.
FM=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$FM" ]; then
    say ""
    say "W7: skipped (no $FM; scripts/deps.sh --all installs dataset-fashion-mnist)"
    return 0
fi
say ""
say "== W7: Elman RNN, 28 steps of 28 features, 128 hidden, Adam, batch 64, 1 epoch (seconds, training only)"
./nnc build bench/models/w7.nn -o "$B/w7"
# R7 runs of each, alternating: nnc (the repeat rolled into one loop over
# t), PyTorch's loop over time written out, and its nn.RNN
R7=${R7:-$(( R < 3 ? R : 3 ))}
: >"$B/t_w7_nnc"; : >"$B/t_w7_loop"; : >"$B/t_w7_rnn"
load0=$(cut -d' ' -f1 /proc/loadavg)
for _ in $(seq "$R7"); do
    rm -rf "$B/w7run"
    "$B/w7" train --quiet --log "$B/w7run" >/dev/null 2>&1
    secs_col "$B/w7run/metrics.csv" 1 train_seconds >>"$B/t_w7_nnc"
    if [ $have_torch = 1 ]; then
        for form in loop rnn; do
            (cd bench/torch && /usr/bin/python3 w7.py 1 $form) >"$B/w7_$form.out"
            awk '/^epoch/ { print $4 }' "$B/w7_$form.out" >>"$B/t_w7_$form"
        done
    fi
done
read -r _ nnc_med _ _ < <(stats nnc "$B/t_w7_nnc")
ref=""
row5 "nnc (generated C), $R7 x 1 epoch" "$B/t_w7_nnc"
say "    test accuracy after 1 epoch: $(secs_col "$B/w7run/metrics.csv" 1 test_accuracy)"
if [ $have_torch = 1 ]; then
    for form in loop rnn; do
        row5 "PyTorch $([ $form = loop ] && echo "loop over time written out" || echo "nn.RNN"), $R7 x 1 epoch" "$B/t_w7_$form"
        say "    test accuracy after 1 epoch: $(awk '/^epoch 1/ { print $6 }' "$B/w7_$form.out")"
    done
    read -r _ t_loop _ _ < <(stats x "$B/t_w7_loop"); read -r _ t_rnn _ _ < <(stats x "$B/t_w7_rnn")
    say "$(printf '  PyTorch / nnc: loop written out x%.1f, nn.RNN x%.1f (medians; wanted: at least x5 and x4)' \
        "$(echo "$t_loop / $nnc_med" | bc -l)" "$(echo "$t_rnn / $nnc_med" | bc -l)")"
else
    say "  PyTorch: skipped (/usr/bin/python3 has no torch)"
fi
say "  load average at the start $load0, at the end $(cut -d' ' -f1 /proc/loadavg)"
