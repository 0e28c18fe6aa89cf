"""What hostile pictures cost one read: CPU seconds and peak memory, beside the reference run.

    python -m benchmarks.hostile_reads [--only NAME ...]

Each picture is made here (seeded), encoded as a file, and read from its bytes by `Recognizer.read` in a
fresh process (so each peak is its own), in number mode, once with no CPU limit (the cost the reading
itself has) and once with the default limit. Columns: the file's size, CPU seconds and peak memory growth
(max RSS over the process's RSS after a warm-up read) without a limit, CPU seconds with the default limit,
the answers, and the reference run's figures (`REFERENCE`: the code before the hostile-input work, commit
bbba042, run by this same script on the same machine and day; that code has no limit to turn off).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numpy as np
from PIL import Image

# name -> (CPU s, peak MiB, answer): the code before this work, run by this script (2 cores shared with a
# training run; CPU seconds vary by ~30% between runs there).
REFERENCE: dict[str, tuple[float, float, str]] = {
    "static 250": (1.35, 89, "589 digits"),
    "static 500": (19.12, 285, "2009 digits"),
    "static 1000": (264.83, 538, "7546 digits"),
    "sparse static 1000": (1.49, 172, "1935 digits"),
    "ellipse grid": (9.42, 34, "3600 digits"),
    "RGBA 7000x7000 PNG": (2.72, 936, "1 digit"),
    "float 7000x7000 TIFF": (2.00, 1132, "1 digit"),
    "16-bit 7000x7000 PNG": (0.69, 842, "1 digit"),
}


def static(side: int, density: float) -> Callable[[], bytes]:
    def make() -> bytes:
        rng = np.random.default_rng(0)
        image = np.full((side, side), 255, np.uint8)
        image[rng.random((side, side)) < density / 2] = 0
        return _encode(Image.fromarray(image), "PNG")

    return make


def ellipse_grid() -> bytes:
    import cv2

    image = np.full((1224, 1224), 255, np.uint8)
    for i in range(45):
        for j in range(40):
            cv2.ellipse(image, (j * 30 + 15, i * 27 + 13), (13, 6), 0, 0, 360, 0, 2)
    return _encode(Image.fromarray(image), "PNG")


def large(mode: str, fmt: str) -> Callable[[], bytes]:
    def make() -> bytes:
        fill = {"RGBA": (255, 255, 255, 255), "F": 1.0, "I;16": 65535}[mode]
        ink = {"RGBA": (0, 0, 0, 255), "F": 0.0, "I;16": 0}[mode]
        image = Image.new(mode, (7000, 7000), fill)  # type: ignore[arg-type]
        image.paste(ink, (100, 100, 400, 600))  # type: ignore[arg-type]
        return _encode(image, fmt, **({"compression": "tiff_deflate"} if fmt == "TIFF" else {}))

    return make


def _encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


PICTURES: dict[str, Callable[[], bytes]] = {
    "static 250": static(250, 0.5),
    "static 500": static(500, 0.5),
    "static 1000": static(1000, 0.5),
    "sparse static 1000": static(1000, 0.1),
    "ellipse grid": ellipse_grid,
    "RGBA 7000x7000 PNG": large("RGBA", "PNG"),
    "float 7000x7000 TIFF": large("F", "TIFF"),
    "16-bit 7000x7000 PNG": large("I;16", "PNG"),
}

# Run in a fresh interpreter: reads the file named on stdin's first line, prints one JSON line.
_ONE_READ = textwrap.dedent(
    """
    import inspect, json, resource, sys, time
    import numpy as np
    from digitreader.recognizer import Recognizer
    path, limited = sys.stdin.readline().split()
    kwargs = {}
    if "read_seconds" in inspect.signature(Recognizer.load).parameters:
        kwargs["read_seconds"] = None if limited == "1" else 0
    r = Recognizer.load(threads=1, **kwargs)
    r.read(np.full((64, 64), 255, np.uint8), "digit")
    rss = int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20
    data = open(path, "rb").read()
    start = time.process_time()
    try:
        reading = r.read(data, "number")
        answer = f"{len(reading.digits)} digits" if reading.digits else "; ".join(reading.notes[1:]) or "none"
    except Exception as exc:
        answer = type(exc).__name__
    cpu = time.process_time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"cpu": cpu, "peak": peak - rss, "answer": answer}))
    """
)


def read_in_fresh_process(path: str, limited: bool) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _ONE_READ],
        input=f"{path} {int(limited)}\n",
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def _short(result: dict[str, object]) -> str:
    """An answer fit for a table cell: the mark-cap note as "N marks: noise"."""
    text = str(result["answer"])
    return text.split(" separate marks")[0] + " marks: noise" if " separate marks" in text else text


def main(argv: list[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.hostile_reads", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", nargs="+", choices=list(PICTURES), help="just these pictures")
    args = parser.parse_args(argv)
    names = args.only or list(PICTURES)
    print(
        "| picture | file KB | CPU s | peak MiB | answer | CPU s, 5 s limit | answer, 5 s limit "
        "| reference CPU s | reference peak MiB | reference answer |"
    )
    print("|---|---:|---:|---:|---|---:|---|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            data = PICTURES[name]()
            path = f"{folder}/picture"
            with open(path, "wb") as f:
                f.write(data)
            free = read_in_fresh_process(path, limited=False)
            limited = read_in_fresh_process(path, limited=True)
            ref_cpu, ref_peak, ref_answer = REFERENCE.get(name, (float("nan"), float("nan"), "?"))
            now = f"{free['cpu']:.2f} | {free['peak']:.0f} | {_short(free)}"
            capped = f"{limited['cpu']:.2f} | {_short(limited)}"
            before = f"{ref_cpu:.2f} | {ref_peak:.0f} | {ref_answer}"
            print(f"| {name} | {len(data) / 1000:.0f} | {now} | {capped} | {before} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
