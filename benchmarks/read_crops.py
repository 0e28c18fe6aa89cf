"""Two hard cases for single digits, from MNIST *test* digits: crops carrying fragments of their neighbours,
and small writing in 12-megapixel photos.

    python -m benchmarks.read_crops [--digits 200] [--photos 10] [--seed 1000] [--model PATH]

Neighbour crops (`data.neighbour_crops`): a digit cut from a line of three with 20-45 % of a neighbour's
ink width at the left, the right or both sides, 28/56/112 px high, grey and binarised at 128; read in
digit mode, beside the same window without the neighbours. Big photos (`data.big_photos`): one digit or
a 3-digit number written 20, 24 or 40 px tall on a 4000x3000 sheet of textured, unevenly lit paper;
found = the digits read exactly (auto mode; digit mode for one digit); CPU = median seconds per read
(one thread, picture already decoded). Seeds 0-999 are for tuning; report from 1000 (the default).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.read_accuracy import DEFAULT_MODEL, _default_data_dir
from digitreader.data.big_photos import big_photo
from digitreader.data.neighbour_crops import SIDES, neighbour_crops
from digitreader.data.synth import load_test_digits
from digitreader.recognizer import Recognizer

HEIGHTS = (20, 24, 40)


def neighbour_table(reader: Recognizer, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> None:
    right: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # with neighbours, alone, pictures
    right["all"] = [0, 0, 0]  # rows in this order: all, then by side, then by size and look
    for side in SIDES:
        right[f"fragments at: {side}"] = [0, 0, 0]
    for kind, crop in neighbour_crops(images, labels, n, seed):
        size, look, side = kind.split()
        for key in ("all", f"fragments at: {side}", f"{size} {look}"):
            right[key][0] += reader.read(crop.crop, "digit").digits_text == str(crop.label)
            right[key][1] += reader.read(crop.alone, "digit").digits_text == str(crop.label)
            right[key][2] += 1
    print(f"| crops ({n} middle digits, seed {seed}) | n | with neighbours | alone |")
    print("|---|---|---|---|")
    for key, (with_, alone, total) in right.items():
        print(f"| {key} | {total} | {with_ / total:.2%} | {alone / total:.2%} |")


def photo_table(reader: Recognizer, images: np.ndarray, labels: np.ndarray, n: int, seed: int) -> None:
    print(f"\n| 4000x3000 photo ({n} each, seed {seed}) | mode | found | CPU s (median) |")
    print("|---|---|---|---|")
    for count in (1, 3):
        for height in HEIGHTS:
            for mode in ("auto", "digit") if count == 1 else ("auto",):
                found, cpu = 0, []
                for i in range(n):
                    rng = np.random.default_rng([seed, count, height, i])
                    pick = rng.integers(len(images), size=count)
                    photo, text, _ = big_photo(images[pick], labels[pick], height, rng)
                    start = time.process_time()
                    found += reader.read(photo, mode).digits_text == text
                    cpu.append(time.process_time() - start)
                what = "one digit" if count == 1 else f"{count} digits"
                print(f"| {what}, {height} px | {mode} | {found}/{n} | {np.median(cpu):.2f} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.read_crops", description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="ONNX model (default: the bundled one)")
    p.add_argument("--digits", type=int, default=200, help="middle digits for the neighbour crops")
    p.add_argument("--photos", type=int, default=10, help="photos per row of the big-photo table")
    p.add_argument("--seed", type=int, default=1000, help="seed; 0-999 were used for tuning")
    p.add_argument("--data-dir", type=Path, default=_default_data_dir(), help="MNIST folder (t10k files)")
    args = p.parse_args(argv)
    reader = Recognizer.load(args.model, threads=1)
    images, labels = load_test_digits(args.data_dir)
    started = time.perf_counter()
    if args.digits:
        neighbour_table(reader, images, labels, args.digits, args.seed)
    if args.photos:
        photo_table(reader, images, labels, args.photos, args.seed)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
