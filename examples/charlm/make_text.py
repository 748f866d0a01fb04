#!/usr/bin/python3
"""make_text.py OUT_DIR [N]: a small text and its training windows for charlm.nn.

The text is made here (so the example needs nothing downloaded): N sentences of
a tiny grammar ("the cat sees a red bird. ...").  The alphabet is a-z, space
and '.', V = 28 characters.  windows.npz holds every window of T = 16
characters of the text, one-hot: x the characters, y the characters one later.
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
ids = np.array([ALPHABET.index(ch) for ch in text])
eye = np.eye(len(ALPHABET), dtype=np.float32)
starts = np.arange(0, len(ids) - T - 1, 3)
x = np.stack([eye[ids[s:s + T]] for s in starts])
y = np.stack([eye[ids[s + 1:s + T + 1]] for s in starts])
os.makedirs(out, exist_ok=True)
np.savez(os.path.join(out, "windows.npz"), x=x, y=y)
with open(os.path.join(out, "text.txt"), "w") as f:
    f.write(text + "\n")
with open(os.path.join(out, "alphabet.txt"), "w") as f:
    f.write(ALPHABET + "\n")
print("%d characters, %d windows of %d" % (len(text), len(x), T))
