#!/usr/bin/python3
"""make_text.py OUT_DIR [N]: a small text and its training windows for charlm.nn.

The text is made here (so the example needs nothing downloaded): N sentences of
a tiny grammar ("the cat sees a red bird. ...").  The alphabet is a-z, space
and '.', V = 28 characters.  windows.npz holds seq, every window of T + 1 = 17
characters of the text (starting every third character) as integers in [0, 28):
the model reads characters 0 .. 15 and predicts 1 .. 16.
text.txt is the text; alphabet.txt the characters in their order.
"""
import os, sys
import numpy as np

ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
T = 16
out = sys.argv[1] if len(sys.argv) > 1 else "."
n = int(sys.argv[2]) if len(sys.argv) > 2 else 400
rng = np.random.default_rng(1)
nouns = ["cat", "dog", "bird", "fish", "child", "horse"]
verbs = ["sees", "likes", "chases", "hears", "finds"]
adjectives = ["red", "small", "old", "happy", "quick"]
words = []
for _ in range(n):
    words += ["the", rng.choice(adjectives), rng.choice(nouns), rng.choice(verbs),
              "a", rng.choice(nouns) + "."]
text = " ".join(words)
ids = np.array([ALPHABET.index(ch) for ch in text], dtype=np.int32)
starts = np.arange(0, len(ids) - T - 1, 3)
seq = np.stack([ids[s:s + T + 1] for s in starts])   # [windows, T + 1] integers
os.makedirs(out, exist_ok=True)
np.savez(os.path.join(out, "windows.npz"), seq=seq)
with open(os.path.join(out, "text.txt"), "w") as f:
    f.write(text + "\n")
with open(os.path.join(out, "alphabet.txt"), "w") as f:
    f.write(ALPHABET + "\n")
print("%d characters, %d windows of %d + 1" % (len(text), len(seq), T))
