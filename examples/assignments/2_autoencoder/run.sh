#!/bin/bash
# run.sh - the second assignment, start to finish (docs/tutorial.md walks
# through it): AutoEncNetLite on Fashion-MNIST images with Xavier-uniform
# weights, a frozen identity layer and zero biases; 1000 SGD updates of batch
# 20 at lr 0.001 on the sum-squared loss; the learning curve; test images
# beside their reconstructions; the speed of the scalar-loop form
# (--style=loops) against the vector form (the default), as a ratio.
# --quick: 50 updates.
. "$(dirname "$0")/../common.sh"
cd "$OUT"
cp "$HERE/autoenc.nn" .
STEPS=1000
[ $QUICK = 1 ] && STEPS=50

step "the data: pickles of Fashion-MNIST images (the course's images_train.pickle, images_test.pickle)"
show "$PY" "$HERE/make_images.py" $((STEPS * 20))

step "compile AutoEncNetLite: the vector form (default) and the scalar-loop form"
show "$NNC" build autoenc.nn -o autoenc
LOOPS=0
if "$NNC" --help 2>&1 | grep -q -- '--style'; then
    show "$NNC" build autoenc.nn -o autoenc-loops --style=loops
    LOOPS=1
else
    echo "(this nnc has no --style=loops yet: no scalar-loop form to compare)"
fi

step "the initial parameters: Xavier uniform, the identity layer, zero biases"
show ./autoenc init --out init.npz
"$PY" "$HERE/init_ranges.py" init.npz

step "train: $STEPS SGD updates, batch 20, lr 0.001, batches in order, sum-squared loss"
show ./autoenc train --steps $STEPS --init init.npz --log run --save trained.npz
echo "run/steps.csv: the loss of each update's batch of 20 ($(($(wc -l < run/steps.csv) - 1)) rows)"
sed -n '1,3p' run/steps.csv; echo ...; tail -n 2 run/steps.csv
PLOT_EXTRA="set logscale y; set key off" \
    plot learning-curve.png "AutoEncNetLite: sum-squared loss of each batch of 20 images" \
        "update" "loss (sum over the batch and the pixels)" run/steps.csv:step:batch_loss:"batch loss"

step "the frozen layer stayed the identity"
"$PY" -c "import numpy as np; p = np.load('trained.npz'); print('W_rec is I:', np.array_equal(p['W_rec'], np.eye(128)),
      '  b_rec is 0:', not p['b_rec'].any())"

step "test images beside their reconstructions"
if [ -f run/reconstructions.png ]; then
    echo "run/reconstructions.png: the first 16 test images, each above its reconstruction"
else
    echo "(this nnc's trainer draws no reconstructions yet)"
fi

[ $LOOPS = 1 ] || exit 0
step "speed: the scalar-loop form (--style=loops) against the vector form (default)"
# wall and CPU seconds of a command, into NAME.time
timed() { local name=$1; shift; /usr/bin/time -f "%e %U %S" -o $name.time "$@" > /dev/null; }
TEST='files(x = "fashion-mnist/t10k-images-idx3-ubyte.gz" / 255)'   # all 10000 test images
for form in autoenc autoenc-loops; do
    timed fwd-$form ./$form eval --params trained.npz --data "$TEST"
    timed train-$form ./$form train --steps $STEPS --init init.npz --test none --quiet
done
{
    echo "job,form,wall_s,cpu_s"
    for job in fwd train; do
        for form in autoenc autoenc-loops; do
            read -r wall user sys < $job-$form.time
            echo "$job,$([ $form = autoenc ] && echo vector || echo loops),$wall,$(echo "$user $sys" | awk '{ print $1 + $2 }')"
        done
    done
} > speed.csv
awk -F, 'NR > 1 { w[$1 "," $2] = $3; c[$1 "," $2] = $4 }
    END { printf "%-42s %8s %8s %8s\n", "job", "vector", "loops", "ratio"
          n["fwd"] = "forward pass, 10000 test images (eval)"; n["train"] = "training, '$STEPS' updates (+ 2 evaluations)"
          for (j in n) printf "%-42s %7.2fs %7.2fs %7.1fx  (CPU %.2fs vs %.2fs: %.1fx)\n", n[j],
              w[j ",vector"], w[j ",loops"], w[j ",loops"] / w[j ",vector"], c[j ",vector"], c[j ",loops"],
              c[j ",loops"] / c[j ",vector"] }' speed.csv | tee speed.txt
