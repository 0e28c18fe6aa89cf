"""A bounded fuzzer of the reading door: files, bytes, arrays and PIL images in every mode, each read by the
real `Recognizer` as a user would, every outcome sorted.

    python tests/hostile/fuzz.py 10000 [--seed 0]      # prints one JSON summary line

Input `i` is made from `random.Random(seed * 1_000_003 + i)` alone, so any input can be made again from its
number. An outcome is a reading, a documented error (`DigitreaderError` and its kinds) or anything else: a
failure, kept with its input's number, kind and one-line message. The summary also has each kind's counts,
the slowest reads (thread CPU and wall seconds), and the process's peak RSS (every input is read in this
one process, so no input's read went above it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import resource
import struct
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

WRITABLE = ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM"]  # the formats the reader opens
OTHERS = ["DDS", "TGA", "ICO", "PCX", "SGI", "QOI", "MSP", "XBM", "SPIDER", "JPEG2000", "AVIF", "PDF"]
MODES = ["1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "La"]
MODES += ["PA", "I;16", "I;16L", "I;16B", "I;16N"]
DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16"]
DTYPES += ["float32", "float64", "longdouble", "complex64", "object", "U3", "S3", "datetime64[s]"]
DTYPES += ["timedelta64[ms]", ">u2", ">f4", "V4"]


# --------------------------------------------------------------------------------------------- pictures


def picture(rng: random.Random, large: bool = False) -> np.ndarray:
    """A gray picture worth reading: digits, noise, strokes, blank or flat, at a random size."""
    import cv2

    side = rng.choice([4, 8, 28, 64, 160, 300, 600]) if not large else rng.choice([1200, 2500])
    h, w = max(1, int(side * rng.uniform(0.3, 1.7))), max(1, int(side * rng.uniform(0.3, 1.7)))
    kind = rng.choice(["digits", "noise", "strokes", "blank", "flat"])
    image = np.full((h, w), rng.choice([255, 230, 0, 128]), np.uint8)
    if kind == "digits":
        text = "".join(rng.choice("0123456789.,-") for _ in range(rng.randint(1, 8)))
        scale = max(0.3, h / 40)
        cv2.putText(
            image,
            text,
            (2, int(h * 0.8)),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            255 - int(image[0, 0]),
            rng.randint(1, 9),
        )
    elif kind == "noise":
        density = rng.choice([0.01, 0.1, 0.5, 1.0])
        noise = np.random.default_rng(rng.randrange(2**32)).random((h, w))
        image[noise < density / 2] = 0
        image[(noise >= density / 2) & (noise < density)] = 255
    elif kind == "strokes":
        for _ in range(rng.randint(1, 60)):
            points = np.array(
                [(rng.randrange(w), rng.randrange(h)) for _ in range(rng.randint(2, 6))], np.int32
            )
            cv2.polylines(image, [points], False, rng.randrange(256), rng.randint(1, 12))
    elif kind == "flat":
        image[:] = rng.randrange(256)
    return image


def encoded(rng: random.Random) -> bytes:
    """A picture in a random mode, encoded in a random format (a few outside the reader's list)."""
    fmt = rng.choice(WRITABLE * 3 + OTHERS)
    gray = picture(rng)
    im = Image.fromarray(gray)
    mode = rng.choice(["L", "RGB", "RGBA", "P", "1", "LA", "I;16", "CMYK", "F", "I"])
    with contextlib.suppress(ValueError):  # a conversion Pillow lacks: keep the gray one
        im = im.convert(mode) if mode not in ("I;16", "F", "I") else im.convert("I").convert(mode)
    if rng.random() < 0.3:  # an EXIF orientation, valid or not
        exif = Image.Exif()
        exif[0x0112] = rng.choice([1, 3, 6, 8, 0, 9, 255, 65535])
        im.info["exif"] = exif.tobytes()
    buffer = io.BytesIO()
    for attempt in (im, im.convert("RGB"), Image.fromarray(gray)):
        try:
            attempt.save(
                buffer,
                fmt,
                **(
                    {"exif": attempt.info["exif"]}
                    if "exif" in attempt.info and fmt in ("JPEG", "PNG", "WEBP", "TIFF")
                    else {}
                ),
            )
            return buffer.getvalue()
        except Exception:
            buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int, body: bytes) -> bytes:
    """A PNG whose header says `width` x `height` (CRCs right, so the decoder believes it)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, random.Random(width).choice([0, 2, 4, 6]), 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------------- mutations


def mutated(rng: random.Random, data: bytes) -> bytes:
    """`data` damaged one of the ways files get damaged, or attacked."""
    b = bytearray(data)
    how = rng.choice(["bits", "truncate", "span", "duplicate", "header", "splice", "none"])
    if how == "bits":
        for _ in range(rng.randint(1, 24)):
            if b:
                i = rng.randrange(len(b)) if rng.random() < 0.5 else rng.randrange(min(len(b), 64))
                b[i] ^= 1 << rng.randrange(8)
    elif how == "truncate" and b:
        del b[rng.randrange(len(b)) :]
    elif how == "span" and b:
        i = rng.randrange(len(b))
        b[i : i + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif how == "duplicate" and b:
        i = rng.randrange(len(b))
        b[i:i] = b[i : i + rng.randint(1, 4096)] * rng.randint(1, 8)
    elif how == "header" and len(b) > 32:
        i = rng.randrange(4, 32)  # sizes, depths, offsets live near the start
        b[i : i + 4] = rng.choice(
            [b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff", b"\x00\x01\x00\x00"]
        )
    elif how == "splice":
        b = b[: rng.randrange(len(b) + 1)] + bytearray(encoded(rng))[rng.randrange(16) :]
    return bytes(b)


def hostile_bytes(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.6:
        return mutated(rng, encoded(rng))
    if kind < 0.75:  # a header claiming a huge or degenerate size
        width = rng.choice([0, 1, 3, 4, 7000, 65535, 2**31 - 1, 100_000])
        height = rng.choice([0, 1, 4, 7000, 65535, 2**31 - 1, 100_000])
        return png_claiming(width, height, zlib.compress(bytes(rng.randrange(256) for _ in range(64))))
    if kind < 0.85:  # a magic number, then garbage
        magic = rng.choice(
            [
                b"\x89PNG\r\n\x1a\n",
                b"\xff\xd8\xff",
                b"BM",
                b"GIF89a",
                b"II*\x00",
                b"MM\x00*",
                b"RIFF",
                b"P5\n",
                b"P6\n",
                b"DDS ",
                b"\x00\x00\x00\x1cftypavif",
            ]
        )
        return magic + bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
    if kind < 0.9:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    # a valid PNM with a header to taste
    w, h = (
        rng.choice([(4, 4), (1, 100_000), (3000, 3000), (0, 5)]),
        rng.choice([b"255", b"65535", b"1", b"0"]),
    )
    return b"P5\n%d %d\n%s\n" % (w[0], w[1], h) + bytes(
        rng.randrange(256) for _ in range(rng.randint(0, 4096))
    )


def hostile_array(rng: random.Random) -> np.ndarray:
    dtype = rng.choice(DTYPES)
    shape_kind = rng.random()
    if shape_kind < 0.05:  # something huge that costs nothing to hold: a broadcast view
        return np.broadcast_to(
            np.zeros((), dtype=np.float64 if dtype in ("object", "V4") else dtype),
            (20_000, 20_000, rng.choice([1, 3, 4])),
        )
    if shape_kind < 0.15:
        shape: tuple[int, ...] = rng.choice(
            [
                (),
                (5,),
                (0, 5),
                (5, 0),
                (1, 1),
                (3, 3),
                (2, 2, 2, 2),
                (10, 10, 0),
                (10, 10, 2),
                (10, 10, 5),
                (4, 100_001),
            ]
        )
    else:
        gray = picture(rng)
        shape = gray.shape if rng.random() < 0.5 else (*gray.shape, rng.choice([1, 3, 4]))
    np_rng = np.random.default_rng(rng.randrange(2**32))
    try:
        if dtype in ("object", "U3", "S3", "V4"):
            array = np.zeros(shape, dtype=dtype)
        elif dtype.startswith(("datetime", "timedelta")):
            array = np_rng.integers(0, 10**6, shape).astype(dtype)
        elif dtype == "bool":
            array = np_rng.random(shape) < 0.5
        else:
            scale = rng.choice([1.0, 255.0, 65535.0, 1e9, -1.0])
            array = (np_rng.random(shape) * scale).astype(dtype)
            if rng.random() < 0.1 and np.issubdtype(array.dtype, np.inexact) and array.size:
                array.flat[rng.randrange(array.size)] = rng.choice([np.nan, np.inf, -np.inf])
    except (TypeError, ValueError, OverflowError):
        array = np.zeros(shape, dtype=np.uint8)
    array = np.asarray(array)  # a 0-d result comes back as a numpy scalar
    layout = rng.random()
    if layout < 0.15 and array.ndim >= 2:
        array = array[::2, ::-1]
    elif layout < 0.25 and array.ndim >= 2:
        array = np.asfortranarray(array)
    elif layout < 0.3:
        array.flags.writeable = False
    return array


def hostile_pil(rng: random.Random) -> Image.Image:
    mode = rng.choice(MODES)
    size = rng.choice([(1, 1), (4, 4), (28, 28), (160, 120), (600, 40), (5000, 4)])
    if rng.random() < 0.25:  # a lazily opened file, possibly damaged: decoded only when read
        data = encoded(rng)
        png = io.BytesIO()
        Image.fromarray(picture(rng)).save(png, "PNG")
        # The first of these the caller's own Image.open accepts (PDF, say, Pillow writes but cannot read).
        for candidate in (hostile_bytes(rng), data[: rng.randint(len(data) // 2, len(data))], data):
            try:
                return Image.open(io.BytesIO(candidate))
            except Exception:
                continue
        return Image.open(io.BytesIO(png.getvalue()[: rng.randint(60, len(png.getvalue()))]))
    try:
        im = Image.new(mode, size)
        raw = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, len(im.tobytes()), dtype=np.uint8)
        im = Image.frombytes(mode, size, raw.tobytes())
    except (ValueError, OSError):
        im = Image.new("L", size)
    if mode in ("P", "PA") and rng.random() < 0.5:
        im.putpalette([rng.randrange(256) for _ in range(rng.choice([3, 48, 768]))])
    if rng.random() < 0.2:
        im.info["transparency"] = rng.choice([0, 255, (1, 2, 3), b"\x00\xff", -1, 10**9])
    return im


def hostile_path(rng: random.Random, folder: Path) -> Path:
    names = [
        "pic.png",
        "pic",
        "a b.jpg",
        "line\nbreak.png",
        "esc\x1b[31m.png",
        "ünïcode.tif",
        "x" * 200 + ".bmp",
    ]
    path = folder / rng.choice(names)
    kind = rng.random()
    if kind < 0.85:
        path.write_bytes(hostile_bytes(rng) if rng.random() < 0.7 else encoded(rng))
    elif kind < 0.9:
        path.mkdir(exist_ok=True)
    elif kind < 0.95:
        path = folder / ("missing-" + path.name)
    else:
        if path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(path)  # a link to itself: opening it loops
    return path


# ------------------------------------------------------------------------------------------------- run


def make_input(seed: int, i: int, folder: Path) -> tuple[str, Any]:
    rng = random.Random(seed * 1_000_003 + i)
    kind = rng.choice(["bytes", "bytes", "file", "array", "pil"])
    if kind == "bytes":
        return kind, hostile_bytes(rng)
    if kind == "file":
        sub = folder / str(i % 7)  # a few folders, reused: no pile of files
        if sub.exists() and not sub.is_dir():
            sub.unlink()
        sub.mkdir(exist_ok=True)
        for old in sub.iterdir():
            if old.is_dir() and not old.is_symlink():
                old.rmdir()
            else:
                old.unlink()
        return kind, hostile_path(rng, sub)
    if kind == "array":
        return kind, hostile_array(rng)
    return kind, hostile_pil(rng)


def run(count: int, seed: int = 0, on_each: Callable[[int, str, str], None] | None = None) -> dict[str, Any]:
    """Read `count` generated inputs; the summary described in the module docstring."""
    from digitreader.errors import DigitreaderError
    from digitreader.recognizer import Recognizer

    recognizer = Recognizer.load(threads=1)
    outcomes: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    slowest: list[tuple[float, float, int, str]] = []
    over_5s = 0
    with tempfile.TemporaryDirectory(prefix="digitreader-fuzz-") as tmp:
        folder = Path(tmp)
        for i in range(count):
            kind, source = make_input(seed, i, folder)
            mode = random.Random(i).choice(["auto", "digit", "number"])
            cpu, wall = time.thread_time(), time.perf_counter()
            try:
                recognizer.read(source, mode)
                outcome = "read"
            except DigitreaderError as exc:
                outcome = type(exc).__name__
            except Exception as exc:  # the fuzzer's quarry
                outcome = "FAILURE"
                failures.append(
                    {"input": i, "kind": kind, "mode": mode, "error": f"{type(exc).__name__}: {exc}"[:300]}
                )
            cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
            over_5s += wall > 5.0
            slowest = sorted([*slowest, (round(wall, 3), round(cpu, 3), i, kind)], reverse=True)[:5]
            outcomes[f"{kind}: {outcome}"] += 1
            if on_each:
                on_each(i, kind, outcome)
    return {
        "inputs": count,
        "seed": seed,
        "outcomes": dict(sorted(outcomes.items())),
        "failures": failures,
        "reads_over_5s_wall": over_5s,
        "slowest (wall s, cpu s, input, kind)": slowest,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="fuzz the reading door; print one JSON summary line")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(json.dumps(run(args.count, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
