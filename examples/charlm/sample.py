#!/usr/bin/python3
"""sample.py TRAINER PARAMS START N [SEED]: N characters of text from charlm.nn.

Each character is drawn from `next`, the model's distribution of the character
after the last T = 16 ones, which `TRAINER predict --outputs next` computes
for a window (the start text, padded on the left with spaces, then what was
drawn) given as integers, as make_text.py writes them.  The model's input
holds T + 1 characters, the last only for the loss (next does not read it):
a space stands there.  Prints the start and the drawn text.
"""
import os, subprocess, sys, tempfile
import numpy as np

ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
T = 16
trainer, params, start, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(int(sys.argv[5]) if len(sys.argv) > 5 else 1)
text = start
with tempfile.TemporaryDirectory() as d:
    for _ in range(n):
        window = text[-T:].rjust(T) + " "
        seq = np.array([[ALPHABET.index(ch) for ch in window]], dtype=np.int32)
        np.savez(os.path.join(d, "w.npz"), seq=seq)
        subprocess.run([trainer, "predict", "--params", params, "--data",
                        os.path.join(d, "w.npz"), "--outputs", "next", "--out",
                        os.path.join(d, "o.npz")], check=True, stdout=subprocess.DEVNULL)
        p = np.load(os.path.join(d, "o.npz"))["next"][0].astype(np.float64)
        text += ALPHABET[rng.choice(len(ALPHABET), p=p / p.sum())]
print(text)
