#!/bin/bash
# run.sh - the third assignment, start to finish (docs/tutorial.md
# walks through it): the hand derivation of sigmoid.nn checked by nnc, the softmax /
# cross-entropy MLP with L2, Adam and exponential decay on Fashion-MNIST, and
# the four comparisons (Adam vs SGD, L2 on/off, schedule on/off) with a
# results table and curves; then the CIFAR-10 configuration on files in
# CIFAR-10's format.  --quick: 1 epoch on the first 2000 images.
. "$(dirname "$0")/../common.sh"
cd "$OUT"
cp "$HERE/mlp.nn" "$HERE/cifar10.nn" "$HERE/sigmoid.nn" .

step "part 1: dL/dw^1_(1,1) of the sigmoid network, by hand (hand.py) and by nnc"
show "$PY" "$HERE/hand.py" | tee hand.txt
echo "\$ nnc explain sigmoid.nn --wrt 'W1[0,0]' --lr 0.1    (the backward part; all in explain.txt)"
"$NNC" explain sigmoid.nn --wrt 'W1[0,0]' --lr 0.1 > explain.txt
sed -n '/^Backward pass/,$p' explain.txt
"$NNC" explain sigmoid.nn --wrt 'W1[0,0]' --lr 0.1 --latex > explain.tex
show "$NNC" build sigmoid.nn -o sigmoid --dtype f64
"$PY" -c "import numpy as np; np.savez('example.npz', x=[[0.5, 0.5, 0.1]], y=[[0.9, 0.1]])"
show ./sigmoid grad --data example.npz --out sigmoid-grad.npz
show "$PY" "$HERE/hand.py" sigmoid-grad.npz | tail -n 1
grep -q "^  dL/dW1\[0,0\] = 0.0104531$" explain.txt   # explain agrees with the hand derivation
EPOCHS=10
FMNIST=/usr/share/datasets/fashion-mnist
if [ $QUICK = 1 ]; then
    EPOCHS=1
    # the first 2000 training and 1000 test images, as .npz
    "$PY" - <<PYEOF
import gzip, numpy as np
def idx(name, off):
    return np.frombuffer(gzip.open("$FMNIST/" + name).read(), np.uint8)[off:]
for part, n, pre in (("train", 2000, "train"), ("test", 1000, "t10k")):
    x = idx(pre + "-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:n] / 255.0
    c = idx(pre + "-labels-idx1-ubyte.gz", 8)[:n]
    np.savez(part + ".npz", x=x.astype(np.float32), c=c)
PYEOF
    DATA=(--data train.npz --test test.npz)
else
    DATA=()
fi

step "compile the classifier, with L2 (l2 = 1e-4) and without (-D l2=0)"
show "$NNC" build mlp.nn -o mlp
show "$NNC" build mlp.nn -o mlp-nol2 -D l2=0

# name, trainer, flags: each run differs from the baseline in one thing
runs=(
  "adam_l2_decay|./mlp|"
  "sgd_l2_decay|./mlp|--optimizer sgd(lr = 0.1)"
  "adam_nol2_decay|./mlp-nol2|"
  "adam_l2_constant|./mlp|--schedule constant"
)
step "train the baseline and the three variants, $EPOCHS epochs each, two at a time (one core each)"
export OPENBLAS_NUM_THREADS=1
pids=()
for r in "${runs[@]}"; do
    IFS='|' read -r name exe flags <<<"$r"
    opt=${flags%% *}; val=${flags#* }
    echo "\$ $exe train --epochs $EPOCHS${flags:+ $opt \"$val\"} --log $name ${DATA[*]}"
    if [ -n "$flags" ]; then
        $exe train --epochs $EPOCHS "$opt" "$val" --log $name --quiet "${DATA[@]}" &
    else
        $exe train --epochs $EPOCHS --log $name --quiet "${DATA[@]}" &
    fi
    pids+=($!)
    if [ ${#pids[@]} = 2 ]; then wait "${pids[@]}"; pids=(); fi
done
wait "${pids[@]}" 2>/dev/null || true

step "results (Fashion-MNIST: $([ $QUICK = 1 ] && echo "2000 training, 1000 test images" || echo "60000 training, 10000 test images"))"
{
    echo "run,optimizer,L2,schedule,final_train_loss,final_test_loss,final_test_accuracy,best_test_accuracy,seconds"
    for r in "${runs[@]}"; do
        IFS='|' read -r name exe flags <<<"$r"
        awk -F, -v name=$name 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            { last = $0; a = $c["test_accuracy"] + 0; if (a > best) best = a }
            END { split(last, f, ","); split(name, n, "_")
                  printf "%s,%s,%s,%s,%.4f,%.4f,%.4f,%.4f,%.0f\n", name, n[1], (n[2] == "l2" ? "1e-4" : "off"),
                      (n[3] == "decay" ? "exp(k=0.1)" : "constant"), f[c["loss"]], f[c["test_loss"]],
                      f[c["test_accuracy"]], best, f[c["seconds"]] }' $name/metrics.csv
    done
} > results.csv
column -t -s, results.csv | tee results.txt
curves=() losses=()
for r in "${runs[@]}"; do
    IFS='|' read -r name exe flags <<<"$r"
    curves+=("$name/metrics.csv:epoch:test_accuracy:$name")
    losses+=("$name/metrics.csv:epoch:loss:$name")
done
PLOT_EXTRA="set key bottom right; $([ $QUICK = 0 ] && echo "set yrange [0.78:0.92]; set xrange [1:*]")" \
    plot test-accuracy.png "Fashion-MNIST test accuracy per epoch" epoch "test accuracy" "${curves[@]}"
PLOT_EXTRA="set logscale y" \
    plot train-loss.png "Fashion-MNIST training objective (cross-entropy + L2) per epoch" epoch loss "${losses[@]}"

step "CIFAR-10: the same network on 32x32x3 images (cifar10.nn)"
show "$NNC" build cifar10.nn -o cifar10
if [ -d "${CIFAR10_DIR:-}" ]; then
    ln -sfn "$CIFAR10_DIR" cifar-10-batches-py
    echo "CIFAR-10 from $CIFAR10_DIR"
    show ./cifar10 train --log cifar10-run $([ $QUICK = 1 ] && echo --epochs 1)
else
    echo "CIFAR-10 is not on this machine (set CIFAR10_DIR to an unpacked cifar-10-batches-py):"
    echo "checking the loader and the configuration on RANDOM images in CIFAR-10's python format."
    echo "These numbers mean nothing; every accuracy above is Fashion-MNIST's."
    show "$PY" "$HERE/fake_cifar.py" cifar-10-batches-py 100
    show ./cifar10 train --epochs 2 --log cifar10-fake-run
fi
