#!/bin/bash
# run.sh - the first assignment, start to finish (docs/tutorial.md walks through it):
# gradients of the untrained 2-10-10-1 ReLU network for the first pair,
# five epochs of full-batch gradient descent (lr 1/100) with the training
# curve, for regression and for binary classification, from a pickle of
# weights, biases, inputs and targets; every number checked against an
# independent numpy implementation (reference.py).
. "$(dirname "$0")/../common.sh"
cd "$OUT"
PKL=assignment-one-test-parameters.pkl

step "the course's pickle (a stand-in made by numpy: weights, biases, 100 inputs, targets, labels)"
show "$PY" "$HERE/make_pickle.py" "$PKL" 100
cp "$HERE"/regression.nn "$HERE"/classification.nn .

for task in regression classification; do
    step "$task: compile (float64, like numpy)"
    show "$NNC" build $task.nn -o $task --dtype f64
    data="files(x = pick(\"$PKL\", \"inputs\"), y = pick(\"$PKL\", \"$([ $task = regression ] && echo targets || echo labels)\"))"

    step "$task: gradients of the first-layer weights and biases for the first (input, target) pair"
    show ./$task grad --params "$PKL" --data "$data" --sample 0 --print W1,b1 --out $task-grad-first.npz

    step "$task: five epochs of full-batch gradient descent, lr 1/100"
    show ./$task train --log $task-run
    plot $task-curve.png "$task: average loss over the 100 pairs (epoch 0 = initial parameters)" \
         "update (epoch)" "average loss" "$task-run/metrics.csv:epoch:loss:$task"

    step "$task: the same numbers from an independent numpy implementation"
    show "$PY" "$HERE/reference.py" "$PKL" $task $task-grad-first.npz $task-run/metrics.csv
done
