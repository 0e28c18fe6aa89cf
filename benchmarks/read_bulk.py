"""How fast many pictures are read: one process against every core, the short way for small digits, the CLI
on a folder, and a textbook pipeline, side by side in one run.

    python -m benchmarks.read_bulk [--digits 10000] [--photos 600] [--rounds 2] [--data-dir MNIST]

The pictures: MNIST's test digits as dark ink on white 28x28 crops (what a form's cut-out boxes look like),
read in digit mode; and realistic single-digit photos (`data.synth.make_single_digits`, seed 1000) read in
auto mode. Rows, each a rate over the same pictures, every round running every row in turn (rates on a
shared machine move; each row's rounds are shown, the best first):

- `read_many`, 1 process, the full pipeline (`fastpath.MAX_SIDE` set to 0): how pictures were read before;
- `read_many`, 1 process, with the short way for small digits (`fastpath.locate_small`);
- `read_many` on every core (`workers=` the cores), workers already started; their start is timed apart;
- `digits read FOLDER --mode digit --out results.jsonl`: the command on a folder of the same digits as PNG
  files, a new process each round (start, model load and workers included);
- where the `dask` extra is installed, `dask_reader.read_bag` on a local Dask cluster of as many one-thread
  worker processes (started and warmed before timing; its start is timed apart);
- the textbook pipeline: per digit, numpy and Pillow MNIST-style preparation (ink box, 20 px, centre of
  mass), then a small CNN in torch eager (the TF tutorial's, `lenet-tf`, fresh weights: speed only), in
  batches of 256 on every core's thread.

Each row also gets its CPU time per picture, workers and the command's processes included: on a machine
shared with other work, wall rates say little about what more cores would give, CPU cost still does.
Readings of the rows that use `read_many` are checked to be identical (text, boxes, confidences).
Torch is imported only for the textbook row.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from digitreader import bulk, fastpath
from digitreader.dask_reader import read_bag
from digitreader.reading import Reading
from digitreader.recognizer import Recognizer


def mnist_crops(n: int, data_dir: str | None) -> tuple[list[np.ndarray], np.ndarray]:
    from digitreader.data.synth import load_test_digits

    images, labels = load_test_digits(data_dir)
    return [np.ascontiguousarray(255 - d) for d in images[:n]], labels[:n]


def textbook_prepare(gray: np.ndarray) -> np.ndarray:
    """One dark-on-light digit -> 28x28 float MNIST-style, the way tutorials do it: invert, crop the ink box,
    scale its longer side to 20 px (Pillow), paste it so its centre of mass is at the centre."""
    from PIL import Image

    ink = 255 - gray
    ys, xs = np.nonzero(ink > 30)
    if len(ys) == 0:
        return np.zeros((28, 28), np.float32)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    f = 20.0 / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), np.float32)
    total = small.sum() or 1.0
    cy = (small.sum(axis=1) * np.arange(size[1])).sum() / total
    cx = (small.sum(axis=0) * np.arange(size[0])).sum() / total
    out = np.zeros((28, 28), np.float32)
    y0 = int(np.clip(round(14 - cy), 0, 28 - size[1]))
    x0 = int(np.clip(round(14 - cx), 0, 28 - size[0]))
    out[y0 : y0 + size[1], x0 : x0 + size[0]] = small
    return out / 255.0


def textbook_reader() -> Callable[[list[np.ndarray]], np.ndarray]:
    import torch

    from digitreader.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("lenet-tf").eval()

    def read(images: list[np.ndarray]) -> np.ndarray:
        labels = []
        for start in range(0, len(images), 256):
            batch = np.stack([textbook_prepare(g) for g in images[start : start + 256]])[:, None]
            with torch.inference_mode():
                labels.append(model(torch.from_numpy(batch)).argmax(dim=1).numpy())
        return np.concatenate(labels)

    return read


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def cpu_seconds(recognizer: Recognizer, others: tuple[int, ...] = ()) -> float:
    """CPU time of this process, its waited-for children (the CLI and its workers) and the recognizer's
    running workers (from /proc): a rate's cost, which a loaded machine changes far less than wall time."""
    own = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own + children.ru_utime + children.ru_stime
    held = bulk._pools.get(recognizer)
    for pid in [*((held[1]._processes or {}) if held else ()), *others]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def cli_on_folder(folder: Path, out: Path, jobs: int) -> float:
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "digitreader", "read", str(folder), "--mode", "digit", "--out", str(out)]
    seconds, done = timed(
        lambda: subprocess.run([*command, "--jobs", str(jobs)], capture_output=True, text=True, timeout=1800)
    )
    if done.returncode != 0:
        raise SystemExit(f"digits read failed: {done.stderr.strip()[-500:]}")
    return seconds


def start_dask(workers: int, warm: list[np.ndarray]) -> tuple[Any, Any, float] | None:
    """A local Dask cluster (`workers` processes of one thread) that has read `warm`, and the seconds that
    took; None where the `dask` extra is not installed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None
    start = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    read_bag(warm, "digit").compute()  # every worker loads the models on its first partition
    return client, cluster, time.perf_counter() - start


def accuracy(readings: list[Reading], labels: np.ndarray) -> float:
    return float(np.mean([r.text == str(int(y)) for r, y in zip(readings, labels, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=10_000, help="MNIST test digits read (default: all)")
    parser.add_argument("--photos", type=int, default=600, help="realistic photos read (seed 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="times every row is run, in turn")
    parser.add_argument("--data-dir", help="the MNIST folder (default: $DIGITREADER_DATA)")
    args = parser.parse_args()
    from digitreader.data.synth import make_single_digits
    from digitreader.errors import DigitreaderError

    try:
        crops, labels = mnist_crops(args.digits, args.data_dir)
        photos = make_single_digits(args.photos, seed=1000, data_dir=args.data_dir)
    except DigitreaderError as exc:
        raise SystemExit(f"read_bulk: {exc}") from None
    cores = bulk.default_workers()
    recognizer = Recognizer.load(threads=1)
    start_s, _ = timed(lambda: recognizer.read_many(crops[: bulk.START_FROM], "digit", workers=cores))
    textbook = textbook_reader()
    dask = start_dask(cores, crops[: bulk.CHUNK * cores])
    dask_pids = () if dask is None else tuple(dask[0].run(os.getpid).values())
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    seen: dict[str, list[Reading]] = {}

    def row(name: str, count: int, fn: Callable[[], Any]) -> Any:
        used = cpu_seconds(recognizer, dask_pids)
        seconds, out = timed(fn)
        cpu.setdefault(name, []).append((cpu_seconds(recognizer, dask_pids) - used) / count * 1000)
        rates.setdefault(name, []).append(count / seconds)
        return out

    def full_pipeline() -> list[Reading]:
        fastpath.MAX_SIDE, kept = 0, fastpath.MAX_SIDE
        try:
            return recognizer.read_many(crops, "digit", workers=1)
        finally:
            fastpath.MAX_SIDE = kept

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "digits"
        folder.mkdir()
        from PIL import Image

        for i, crop in enumerate(crops):
            Image.fromarray(crop).save(folder / f"{i:05d}.png")
        n, m = len(crops), len(photos)
        out = Path(tmp) / "results.jsonl"
        images = [p.image for p in photos]
        for _ in range(args.rounds):
            seen["full"] = row("1 process, full pipeline", n, full_pipeline)
            seen["fast"] = row(
                "1 process, short way", n, lambda: recognizer.read_many(crops, "digit", workers=1)
            )
            seen["cores"] = row(
                f"{cores} processes, short way",
                n,
                lambda: recognizer.read_many(crops, "digit", workers=cores),
            )
            row(f"CLI on a folder of PNG, --jobs {cores}", n, lambda: cli_on_folder(folder, out, cores))
            if dask is not None:
                seen["dask"] = row(f"Dask, {cores} workers", n, lambda: read_bag(crops, "digit").compute())
            row("textbook: numpy/Pillow + torch CNN", n, lambda: textbook(crops))
            seen["photos1"] = row(
                "photos: 1 process", m, lambda: recognizer.read_many(images, "auto", workers=1)
            )
            seen["photos"] = row(
                f"photos: {cores} processes", m, lambda: recognizer.read_many(images, "auto", workers=cores)
            )
    recognizer.close()
    if dask is not None:
        dask[0].close()
        dask[1].close()
    same = seen["full"] == seen["fast"] == seen["cores"] == seen.get("dask", seen["full"])
    photos_same = seen["photos1"] == seen["photos"]
    textbook_rate = max(rates["textbook: numpy/Pillow + torch CNN"])
    load = os.getloadavg()[0]
    dask_start = "" if dask is None else f"; Dask cluster start and first read {dask[2]:.1f} s"
    print(f"{n:,} MNIST test digits (dark on white, 28x28, digit mode); {m} realistic photos (auto mode)")
    print(
        f"{cores} cores; worker start {start_s:.1f} s{dask_start} (not in the rates); "
        f"load average {load:.1f} at the end"
    )
    print()
    print("| reading | pictures/s (best first) | vs textbook | CPU ms per picture (least first) |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        ordered = sorted(values, reverse=True)
        ratio = "" if name.startswith(("textbook", "photos")) else f"{ordered[0] / textbook_rate:.2f}x"
        costs = " / ".join(f"{v:.2f}" for v in sorted(cpu[name]))
        print(f"| {name} | {' / '.join(f'{v:,.0f}' for v in ordered)} | {ratio} | {costs} |")
    print()
    print(
        f"readings identical (full pipeline, short way, {cores} processes, Dask where run): "
        f"{'yes' if same else 'NO'}; "
        f"photos in 1 and {cores} processes: {'yes' if photos_same else 'NO'}"
    )
    print(
        f"accuracy: MNIST {accuracy(seen['fast'], labels):.2%}, photos "
        f"{accuracy(seen['photos'], np.array([int(p.text) for p in photos])):.2%}; "
        f"textbook row: fresh weights, speed only (its labels are not a reading)"
    )


if __name__ == "__main__":
    main()
