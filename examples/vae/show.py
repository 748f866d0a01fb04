#!/usr/bin/python3
"""show.py IN.npz KEY OUT.png [COLS]: the rows of array KEY of IN.npz (N x 784
or N x 28 x 28, values in [0, 1]) as 28 x 28 grey images in a grid of COLS
columns (default 8), written as a PNG by numpy and zlib alone (no plotting
library): the images examples/vae/sample.nn decodes from noise
(docs/tutorial.md, *A variational autoencoder*)."""
import struct, sys, zlib
import numpy as np


def png(path, img):
    """img: an H x W array of bytes, written as an 8-bit grey PNG."""
    h, w = img.shape
    raw = b"".join(b"\0" + img[r].tobytes() for r in range(h))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main():
    src, key, out = sys.argv[1:4]
    cols = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    x = np.load(src)[key].reshape(-1, 28, 28)
    rows, scale, gap = (len(x) + cols - 1) // cols, 3, 4
    side = 28 * scale
    grid = np.full((gap + rows * (side + gap), gap + cols * (side + gap)), 96, np.uint8)
    for k, im in enumerate(x):
        r, c = divmod(k, cols)
        y0, x0 = gap + r * (side + gap), gap + c * (side + gap)
        big = np.kron(np.clip(im, 0, 1), np.ones((scale, scale)))
        grid[y0:y0 + side, x0:x0 + side] = np.round(255 * big).astype(np.uint8)
    png(out, grid)
    print("%s: %d images of %s's %s" % (out, len(x), src, key))


if __name__ == "__main__":
    main()
