"""How fast digits are read: in-process latency, batched throughput (ONNX Runtime vs torch eager), cold CLI.

    python -m benchmarks.read_speed [--model M.onnx] [--checkpoint C.pt] [--runs 50] [--cold-runs 7]

Prints a markdown table with the reference run (`REFERENCE`, measured on the machine described there)
side by side. What is measured:

- latency of one `Recognizer.read(path)` (load + locate + classify), p50 and p99 over `--runs` warm calls,
  for a single digit (examples/digit_7_photo.jpg) and a number (examples/cheque_4096.jpg), the number also
  read without the sequence reader (`sequence=False`: what reading cost before it);
- throughput in digits/s of the classifier alone on MNIST test digits in batches of `--batch`, through ONNX
  Runtime (the float graph, and the same graph quantised to int8) and through torch eager
  (`torch.inference_mode`), same threads, same weights: the torch module is built from `--checkpoint` when
  given, else it is the bundled model's registry architecture (or "cnn") with fresh weights (same
  computation and cost); it is exported here, checked against torch, quantised by `digits export --int8`'s
  own `quantize.quantize_int8` (calibrated on MNIST training digits), and all three run on the same inputs;
- the wall time of a cold `digits read examples/digit_7_photo.jpg` (a new process each time), median of
  `--cold-runs`, next to a bare `python -c pass` for the interpreter's own start.

Torch is imported only here (for the comparison), never by the reading path.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitreader.onnx_engine import available_cpus
from digitreader.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[1]
SINGLE = REPO / "examples" / "digit_7_photo.jpg"
NUMBER = REPO / "examples" / "cheque_4096.jpg"

# The reference run: the bundled cnn (its float graph, commit 4c43b4b) and its checkpoint, on the shared
# 2-core dev VM (Xeon 2.5 GHz) while it was busy (load average ~8): CPU-clock figures only, its wall times
# meant nothing. The int8 rows came later and were not part of it.
# Command: python -m benchmarks.read_speed --checkpoint runs/cnn-bundle/best.pt --runs 20 --cold-runs 5
#          --digits 2048
REFERENCE: dict[str, str] = {
    "latency_single": "CPU p50 57 ms",
    "latency_number": "CPU p50 23 ms",
    "ratio_1t_b1": "1,420 / 408 = 3.5x",
    "ratio_1t_b16": "2,697 / 1,027 = 2.6x",
    "ratio_1t_b256": "2,042 / 1,033 = 2.0x",
    "int8_1t_b1": "not measured in the reference run",
    "int8_1t_b16": "not measured in the reference run",
    "int8_1t_b256": "not measured in the reference run",
    "int8_2t_b256": "not measured in the reference run",
    "cold": "CPU 0.63 s (median of 5)",
}


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def latency(recognizer: Recognizer, path: Path, runs: int) -> tuple[float, float, float, str]:
    """Wall p50 and p99 and process-CPU p50, in ms, of `runs` warm reads; and what was read."""
    text = recognizer.read(path).text
    for _ in range(3):
        recognizer.read(path)
    walls, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        recognizer.read(path)
        walls.append((time.perf_counter() - t0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return percentile(walls, 50), percentile(walls, 99), percentile(cpus, 50), text


def mnist_digits(n: int) -> np.ndarray:
    """n MNIST test digits (or seeded synthetic stand-ins where MNIST is absent), uint8 (n, 28, 28)."""
    try:
        from digitreader.data.synth import load_test_digits

        images, _ = load_test_digits()
        return np.resize(images, (n, 28, 28))
    except Exception:  # benchmark only: any missing data falls back to noise with the right shape
        return np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8)


def throughput(fn: Any, digits: np.ndarray, batch: int, *, cpu: bool, repeats: int = 3) -> float:
    """Digits per second of `fn` over `digits` in batches of `batch`, best of `repeats` after a warm-up.

    `cpu`: time with this thread's CPU clock (run single-threaded: robust where other work shares the
    machine); otherwise the wall clock (all threads).
    """
    clock = time.thread_time if cpu else time.perf_counter
    batches = [digits[i : i + batch] for i in range(0, len(digits), batch)]
    fn(batches[0])
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        for chunk in batches:
            fn(chunk)
        best = min(best, clock() - t0)
    return len(digits) / best


def same_model_both_ways(
    recognizer: Recognizer, checkpoint: str | None, digits: np.ndarray, tmp: Path
) -> Any:
    """A torch module and ONNX Runtime engines holding the very same weights, and notes on their origin.

    From `checkpoint` when given; else the registry architecture of the bundled model (or "cnn" when its
    name is not in the registry) with fresh weights: the same computation and cost as the bundled model.
    Either way the module is exported here (checked against torch) so both sides run identical weights, and
    that float graph is quantised to int8 as `digits export --int8` does (`quantize.quantize_int8`; not
    refused here when it disagrees: a fresh model's near-uniform probabilities flip, the cost does not).
    Engines: ``{"float": {threads: engine}, "int8": {threads: engine}}``.
    """
    import torch

    from digitreader.models.registry import get_spec
    from digitreader.onnx_engine import OnnxEngine
    from digitreader.training.export import export_model
    from digitreader.training.quantize import calibration_images, quantize_int8

    if checkpoint:
        from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint

        ckpt = load_checkpoint(checkpoint)
        module, name, note = build_model_from_checkpoint(ckpt), ckpt.model_name, f"checkpoint {checkpoint}"
    else:
        name = recognizer.model_name
        config = recognizer.metadata.get("config") or {}
        try:
            spec = get_spec(name)
        except Exception:
            name, spec, config = "cnn", get_spec("cnn"), {}
        torch.manual_seed(0)
        module = spec.build(config).eval()
        note = f"registry {name!r}, fresh weights"
    path, int8_path = tmp / "bench.onnx", tmp / "bench-int8.onnx"
    export_model(module, path, {"model": name}, images=digits[:256], check_data="benchmark digits")
    calibration, source = calibration_images(None)
    int8_path.write_bytes(quantize_int8(path.read_bytes(), calibration))
    counts = sorted({1, available_cpus()})
    engines = {
        kind: {n: OnnxEngine.load(p, threads=n) for n in counts}
        for kind, p in (("float", path), ("int8", int8_path))
    }
    same = engines["int8"][1].classify(digits).argmax(1) == engines["float"][1].classify(digits).argmax(1)
    int8_note = f"calibrated on {len(calibration)} {source} images; same digit as float on {same.mean():.2%}"
    return module, engines, note, int8_note


def cold_runs(runs: int) -> tuple[float, float, float, float]:
    """Cold `digits read SINGLE`: median and min wall seconds, median CPU seconds; bare interpreter wall."""
    digits = shutil.which("digits", path=str(Path(sys.executable).parent))
    command = [digits] if digits else [sys.executable, "-m", "digitreader"]

    def timed(cmd: list[str]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    timed([*command, "read", str(SINGLE)])  # page cache warm, as a user's second call
    reads = [timed([*command, "read", str(SINGLE)]) for _ in range(runs)]
    bare = [timed([sys.executable, "-c", "pass"])[0] for _ in range(runs)]
    walls = [w for w, _ in reads]
    return (
        statistics.median(walls),
        min(walls),
        statistics.median(c for _, c in reads),
        statistics.median(bare),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="digit reading speed")
    parser.add_argument("--model", help="ONNX model (default: the bundled one)")
    parser.add_argument("--checkpoint", help="the checkpoint the model was exported from (torch comparison)")
    parser.add_argument("--runs", type=int, default=50, help="warm reads per latency row")
    parser.add_argument("--cold-runs", type=int, default=7, help="cold CLI starts")
    parser.add_argument("--batch", type=int, default=256, help="digits per classifier call")
    parser.add_argument("--digits", type=int, default=4096, help="digits per throughput pass")
    args = parser.parse_args()
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise SystemExit(f"{args.checkpoint}: no such checkpoint file (--checkpoint is optional)")

    rows: list[tuple[str, str, str]] = []  # (key for REFERENCE, what, value)
    # Cold starts first, while this process has no ORT or torch thread pools that could still be busy
    # (measured after them, the median was 0.56 s; before, 0.37 s).
    median, fastest, cpu, bare = cold_runs(args.cold_runs)
    what = f"cold `digits read {SINGLE.name}`: median wall (min) / median CPU, {args.cold_runs} runs"
    cold_rows = [
        ("cold", what, f"{median:.2f} s ({fastest:.2f} s) / {cpu:.2f} s"),
        ("bare", "bare `python -c pass`, median wall", f"{bare:.3f} s"),
    ]

    threads = available_cpus()
    recognizer = Recognizer.load(args.model, threads=threads)
    for key, label, path in (
        ("latency_single", "single digit", SINGLE),
        ("latency_number", "number", NUMBER),
    ):
        p50, p99, cpu, text = latency(recognizer, path, args.runs)
        what = f"warm `read()` latency, {label} ({path.name} -> {text!r}): wall p50 / p99, CPU p50"
        rows.append((key, what, f"{p50:.0f} / {p99:.0f} ms, {cpu:.0f} ms"))
    # The number again without the sequence reader (segmentation and the classifier alone): its cost.
    segmentation = Recognizer.load(args.model, threads=threads, sequence=False)
    p50, p99, cpu, text = latency(segmentation, NUMBER, args.runs)
    what = f"the same number read by segmentation alone (`sequence=False`, -> {text!r})"
    rows.append(("latency_number_segmentation", what, f"{p50:.0f} / {p99:.0f} ms, {cpu:.0f} ms"))

    import tempfile

    import torch

    digits = mnist_digits(args.digits)
    with tempfile.TemporaryDirectory() as tmp:
        model, engines, origin, int8_note = same_model_both_ways(
            recognizer, args.checkpoint, digits, Path(tmp)
        )

        def torch_classify(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                x = torch.from_numpy(batch.astype(np.float32)[:, None] / 255.0)
                return torch.softmax(model(x), dim=1).numpy()

        def compare(n_threads: int, batch: int, inputs: np.ndarray, cpu: bool, clock: str) -> None:
            """Rows for ORT float and ORT int8 against torch eager: same inputs, threads and batch size."""
            rates = {
                kind: throughput(engines[kind][n_threads].classify, inputs, batch, cpu=cpu)
                for kind in engines
            }
            torch_rate = throughput(torch_classify, inputs, batch, cpu=cpu)
            where = f"{n_threads} thread{'s' if n_threads > 1 else ''} ({clock}), batch {batch}"
            for key, kind, label in (
                ("ratio", "float", "ONNX Runtime"),
                ("int8", "int8", "ONNX Runtime int8"),
            ):
                what = f"{where}: {label} / torch eager digits/s"
                value = f"{rates[kind]:,.0f} / {torch_rate:,.0f} = {rates[kind] / torch_rate:.1f}x"
                rows.append((f"{key}_{n_threads}t_b{batch}", what, value))

        torch.set_num_threads(1)
        for batch in sorted({1, 16, args.batch}):
            compare(1, batch, digits[: 256 if batch == 1 else len(digits)], True, "CPU clock")
        torch.set_num_threads(threads)
        compare(threads, args.batch, digits, False, "wall clock")

    rows += cold_rows
    int8 = ", int8" if (recognizer.metadata.get("export") or {}).get("quantization") else ""
    print(f"model {recognizer.model_name} ({recognizer.path.name}{int8}); torch model: {origin}")
    print(f"int8 graph: that model's float graph quantised as `digits export --int8` does, {int8_note}")
    print(f"{threads} CPU threads, onnxruntime {_ort_version()}, torch {torch.__version__}")
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"load average at the end: {load} (wall times are only meaningful on a quiet machine)")
    print(
        "targets: cold read <= 0.5 s wall on 2 cores; ONNX Runtime >= 3x torch eager; a number read with the "
        "sequence reader <= 2x segmentation alone"
    )
    print()
    print("| measure | this run | reference |")
    print("|---|---|---|")
    for key, what, value in rows:
        print(f"| {what} | {value} | {REFERENCE.get(key, '-')} |")


def _ort_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


if __name__ == "__main__":
    main()
