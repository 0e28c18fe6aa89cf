"""`digits read IMAGE...`: print what each image says, one line per image (or one JSON object per line).

    digits read examples/cheque_4096.jpg                 examples/cheque_4096.jpg: 4096
    digits read --json a.png                             {"path": "a.png", "text": "7", "digits": [...]}
    digits read --show out.png a.png                     ...and out.png with boxes, labels and confidences
    digits read                                          asks for paths, one per line, until an empty line
    digits read scans/ -r --out results.jsonl            every picture below scans/ (see `read_files`)

Text lines: several lines of digits in one image are joined with a space; a picture without digits prints
"(no digits found; ...; try --mode digit, or a crop around the writing)": its notes and what to try (its
JSON has text "" and the notes). A bad file is reported on stderr as
``digits: error: <path>: <reason>``, the other files are still read, and the exit code is 2.
With `--show` and several images, each annotated copy is named OUT-STEM-IMAGE-STEM.png (beside OUT).

Imports stay lazy (no torch, no fastapi, no matplotlib): a cold `digits read one.png` is dominated by
numpy, OpenCV and ONNX Runtime loading.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitreader.contract import MODES
from digitreader.files import one_line

if TYPE_CHECKING:
    from digitreader.reading import Reading
    from digitreader.recognizer import Recognizer

CHUNK = 16  # images read together (their digits share ONNX Runtime calls); bounds memory for long lists
PROMPT = "image path (empty line to quit): "


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "read",
        help="read the digits in images",
        description="Read handwritten digits in images (photos, scans, drawings). With no IMAGE, asks for "
        "paths one by one until an empty line.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files (PNG, JPEG, BMP, GIF, TIFF, WebP)")
    p.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="digit: the whole image is one digit; number: lines of digits; auto: decide (default)",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per image and line")
    p.add_argument("--details", action="store_true", help="with --json: all ten probabilities per digit")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="an .onnx file from `digits export`: a digit classifier or a sequence reader, used in place of "
        "the bundled one of its kind (default: both bundled)",
    )
    p.add_argument(
        "--show",
        metavar="OUT.png",
        help="write an annotated copy (boxes, labels, confidences); several images: OUT-<image>.png each",
    )
    p.add_argument(
        "-r", "--recursive", action="store_true", help="folders: their subfolders too; globs: ** matches them"
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="processes reading side by side (default: one per core; a few pictures are read in one)",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="append results to FILE (.jsonl or .csv) with a progress bar and a summary; a rerun skips "
        "the pictures FILE already holds",
    )
    p.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from digitreader.errors import DigitreaderError
    from digitreader.recognizer import Recognizer

    if args.out and (args.show or not args.images):
        raise DigitreaderError("--out needs IMAGE arguments and no --show")
    recognizer = Recognizer.load(args.model)
    if args.images and not args.show:  # folders, globs, many files: every core, in input order
        from digitreader.cli.read_files import read_files

        try:
            return read_files(recognizer, args)
        finally:
            recognizer.close()
    paths: Iterator[str] = iter(args.images) if args.images else _prompted_paths()
    show = _show_paths(args.show, args.images) if args.show else {}
    failed = False
    while True:
        chunk = [p for _, p in zip(range(CHUNK if args.images else 1), paths, strict=False)]
        if not chunk:
            break
        failed |= not _read_chunk(recognizer, chunk, args, show)
    return 2 if failed else 0


def _read_chunk(
    recognizer: Recognizer, chunk: list[str], args: argparse.Namespace, show: dict[str, Path]
) -> bool:
    """Read `chunk` and print one result per image, in order. False when any image failed."""
    from digitreader.cli.read_files import no_digits_text
    from digitreader.errors import DigitreaderError
    from digitreader.names import printable
    from digitreader.vision.load import load_image

    ok = True
    loaded: list[tuple[str, Any]] = []
    for path in chunk:
        try:
            loaded.append((path, load_image(path)))
        except DigitreaderError as exc:
            _error(exc)
            ok = False
    try:
        readings: list[Reading | None] = list(recognizer.read_many([g for _, g in loaded], mode=args.mode))
    except Exception:  # one image upset the pipeline: read one by one to name it (the batch goes on)
        readings = []
        for path, gray in loaded:
            try:
                readings.append(recognizer.read(gray, mode=args.mode))
            except Exception as exc:  # a bug too is reported against its image, not the whole batch
                reason = (
                    exc
                    if isinstance(exc, DigitreaderError)
                    else f"internal error ({type(exc).__name__}: {one_line(exc)})"
                )
                _error(DigitreaderError(f"{printable(path)}: {reason}"))
                readings.append(None)
                ok = False
    for (path, gray), reading in zip(loaded, readings, strict=True):
        if reading is None:
            continue
        if args.json:
            print(json.dumps(reading.to_dict(path, details=args.details)), flush=True)
        else:
            text = reading.text.replace("\n", " ") if reading.digits else no_digits_text(reading, args.mode)
            print(f"{printable(path)}: {text}", flush=True)
        out = show.get(path) or (_show_paths(args.show, [path])[path] if args.show else None)
        if out is not None:
            from digitreader.annotate import save_annotated

            try:
                save_annotated(gray, reading, out)
            except DigitreaderError as exc:
                _error(exc)
                ok = False
    return ok


def _show_paths(show: str, images: list[str]) -> dict[str, Path]:
    """Where each image's annotated copy goes: OUT itself for one image, OUT-<image stem>.png for several."""
    out = Path(show)
    if len(images) <= 1:
        return {p: out for p in images}
    names: dict[str, Path] = {}
    used: set[str] = set()
    for image in images:
        stem = f"{out.stem}-{Path(image).stem}"
        name, n = stem, 2
        while name in used:  # two inputs with the same stem (different folders)
            name, n = f"{stem}-{n}", n + 1
        used.add(name)
        names[image] = out.with_name(name + (out.suffix or ".png"))
    return names


def _prompted_paths() -> Iterator[str]:
    """Paths typed one per line until an empty line or end of input (the prompt only on a terminal)."""
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input(PROMPT) if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and not line:
            return  # end of piped input
        line = line.strip()
        if not line:
            return
        yield _unquoted(line)


def _unquoted(line: str) -> str:
    """A path as terminals paste a dragged file ('/a b.png', "/a b.png", /a\\ b.png) -> /a b.png."""
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
        try:
            parts = shlex.split(line)
        except ValueError:
            return line
        return parts[0] if len(parts) == 1 else line
    return line.replace("\\ ", " ")


def _error(exc: BaseException) -> None:
    print(f"digits: error: {exc}", file=sys.stderr, flush=True)
