#!/usr/bin/env python3
"""Writes the small LRA fixtures that tests/test_lra_configs.c trains on (run by hand,
never by the tests; standard library only). The files are in the released layouts:

  listops/        basic_{train,val,test}.tsv: 64/16/16 expressions of LRA's generator
                  (lra_benchmarks/data/listops.py) with max_depth 3, max_args 4 and
                  at most 48 tokens; header "Source\\tTarget", CRLF line ends
  pathfinder128/  curv_contour_length_14/metadata/1.npy and imgs/1/sample_{0..10}.png:
                  11 more 128x128 grayscale PNGs beside make_image_fixtures.py's one,
                  so that the 80/10/10 split has a validation and a test image
  pathfinder32/   curv_baseline: 20 PNGs of 32x32 (make_image_fixtures.py's
                  curv_contour_length_14 images cannot be told apart in a few steps)
Label 1 images are bright, label 0 dark: a task a tiny model learns in a few steps."""
import os
import random
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = ["[MIN", "[MAX", "[MED", "[SM"]


def path(*p):
    f = os.path.join(HERE, *p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    return f


# ---- ListOps, as LRA's generator: leaves with probability 0.75 below max_depth
def tree(rng, depth, max_depth=3, max_args=4):
    r = rng.random() if depth < max_depth else 1
    if r > 0.25:
        return rng.randint(0, 9)
    t = rng.choice(OPS)
    for _ in range(rng.randint(2, max_args)):
        t = (t, tree(rng, depth + 1, max_depth, max_args))
    return (t, "]")


def to_string(t):
    return "( " + to_string(t[0]) + " " + to_string(t[1]) + " )" if isinstance(t, tuple) else str(t)


def value(t):
    """(op, args) of a left-nested node; a leaf is its digit."""
    if not isinstance(t, tuple):
        return t
    args, node = [], t[0]
    while isinstance(node, tuple):
        args.append(value(node[1]))
        node = node[0]
    args.reverse()
    if node == "[MIN":
        return min(args)
    if node == "[MAX":
        return max(args)
    if node == "[SM":
        return sum(args) % 10
    s = sorted(args)  # [MED: numpy.median, then int()
    n = len(s)
    return int(s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2)


def tokens(s):
    return len([w for w in s.split() if w not in "()"])


def write_listops():
    rng = random.Random(4)
    seen, rows = set(), []
    while len(rows) < 96:
        t = tree(rng, 1)
        s = to_string(t)
        if isinstance(t, tuple) and 3 <= tokens(s) <= 48 and s not in seen:
            seen.add(s)
            rows.append((s, value(t)))
    for name, part in (("train", rows[:64]), ("val", rows[64:80]), ("test", rows[80:])):
        with open(path("listops", "basic_%s.tsv" % name), "w", newline="") as f:
            f.write("Source\tTarget\r\n")
            for s, v in part:
                f.write("%s\t%d\r\n" % (s, v))


# ---- Path-X: 8-bit grayscale PNGs (zlib, no Pillow)
def png(f, side, px):
    raw = b"".join(b"\x00" + bytes(px[y * side:(y + 1) * side]) for y in range(side))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    open(f, "wb").write(b"\x89PNG\r\n\x1a\n" +
                        chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def bright_dark(root, diff, side, b, n, meta):
    """n images imgs/<b>/sample_<i>.png, label (b + i) % 2, listed in metadata/<meta>.npy"""
    text = ""
    for i in range(n):
        label = (b + i) % 2
        base = 128 if label else 0
        px = [base + (5 * y + 3 * x + 17 * i) % 128 for y in range(side) for x in range(side)]
        png(path(root, diff, "imgs", str(b), "sample_%d.png" % i), side, px)
        text += "imgs/%d sample_%d.png %d %d 1.0 14 7 5 1.5 2 1\n" % (b, i, i, label)
    open(path(root, diff, "metadata", "%d.npy" % meta), "w").write(text)


def write_pathfinder():
    bright_dark("pathfinder128", "curv_contour_length_14", 128, 1, 11, 1)
    bright_dark("pathfinder32", "curv_baseline", 32, 0, 20, 0)


if __name__ == "__main__":
    write_listops()
    write_pathfinder()
