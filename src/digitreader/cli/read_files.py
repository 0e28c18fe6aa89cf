"""`digits read` on many files: folders and globs expanded, results to a file that a rerun continues.

    digits read scans/ --recursive --out results.jsonl      # or results.csv; a progress bar, a summary
    digits read 'forms/*/page-*.png' --jobs 4

1. expand: a folder gives the pictures in it (`--recursive`: and below), sorted; an argument that is no
   file but holds `*`, `?` or `[` is a glob (`**` with `--recursive`); anything else is read as given;
2. skip what `--out` already holds (a rerun after Ctrl-C or a crash goes on where it stopped);
3. read with `digitreader.bulk` on `--jobs` processes, results in input order;
4. each result is appended to `--out` and flushed at once (a stop loses no finished work), or printed;
   an unreadable picture is one line on stderr and is not written, so a rerun tries it again.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from digitreader.errors import DigitreaderError
from digitreader.names import printable

if TYPE_CHECKING:
    from digitreader.reading import Reading
    from digitreader.recognizer import Recognizer

# What a folder is searched for (the formats `vision.load` decodes).
SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
OUT_FORMATS = (".jsonl", ".csv")
CSV_FIELDS = ("path", "text", "digits_text", "confidence", "notes", "digits")


@dataclass(frozen=True)
class Entry:
    """One argument's share of the work: a picture to read, or why there is none."""

    path: str
    error: str | None = None


def expand(arguments: list[str], recursive: bool) -> list[Entry]:
    """The pictures the arguments name, in order."""
    entries: list[Entry] = []
    for arg in arguments:
        path = Path(arg)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in (path.rglob("*") if recursive else path.iterdir())
                if p.suffix.lower() in SUFFIXES and p.is_file()
            )
            entries += [Entry(p) for p in found] or [
                Entry(arg, f"{printable(arg)}: is a directory with no pictures in it ({_suffix_list()})")
            ]
        elif not path.exists() and any(c in arg for c in "*?["):
            found = sorted(p for p in glob.glob(arg, recursive=recursive) if Path(p).is_file())
            entries += [Entry(p) for p in found] or [Entry(arg, f"{printable(arg)}: no file matches")]
        else:
            entries.append(Entry(arg))  # a missing or bad file is reported when it is read
    return entries


def _suffix_list() -> str:
    return ", ".join(sorted(SUFFIXES))


class Results:
    """The `--out` file: what it already holds, and each new reading appended and flushed."""

    def __init__(self, path: Path, details: bool) -> None:
        if path.suffix.lower() not in OUT_FORMATS:
            raise DigitreaderError(f"--out {printable(str(path))}: expected a .jsonl or .csv file name")
        self.path = path
        self.csv = path.suffix.lower() == ".csv"
        self.details = details
        self.done = self._done()
        new = not path.exists() or path.stat().st_size == 0
        try:
            self._file: TextIO = path.open("a", encoding="utf-8", newline="")
        except OSError as exc:
            raise DigitreaderError(f"--out {printable(str(path))}: {exc.strerror or exc}") from exc
        if new and self.csv:
            self._write(",".join(CSV_FIELDS) + "\n")

    def _done(self) -> set[str]:
        """Paths already written. A last line cut short by a crash is dropped (its picture is read again)."""
        if not self.path.exists():
            return set()
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise DigitreaderError(f"--out {printable(str(self.path))}: {exc.strerror or exc}") from exc
        whole = raw[: raw.rfind(b"\n") + 1]
        if len(whole) < len(raw):
            with self.path.open("r+b") as f:
                f.truncate(len(whole))
        text = whole.decode("utf-8", errors="replace")
        if self.csv:
            return {row.get("path") or "" for row in csv.DictReader(io.StringIO(text))}
        done = set()
        for line in text.splitlines():
            try:
                done.add(str(json.loads(line)["path"]))
            except (ValueError, KeyError, TypeError):
                continue  # not one of ours: left as it is
        return done

    def key(self, path: str) -> str:
        """How `path` is written in this file (CSV rows are one line each: names printable)."""
        return printable(path) if self.csv else path

    def add(self, path: str, reading: Reading) -> None:
        if not self.csv:
            self._write(json.dumps(reading.to_dict(path, details=self.details)) + "\n")
            return
        row = io.StringIO()
        lowest = min((d.confidence for d in reading.digits), default=None)
        csv.writer(row, lineterminator="\n").writerow(
            [
                self.key(path),
                reading.text.replace("\n", " "),
                reading.digits_text.replace("\n", " "),
                "" if lowest is None else f"{lowest:.6f}",
                "; ".join(" ".join(n.split()) for n in reading.notes),
                json.dumps([d.to_dict(details=self.details) for d in reading.digits]),
            ]
        )
        self._write(row.getvalue())

    def _write(self, text: str) -> None:
        self._file.write(text)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_files(recognizer: Recognizer, args: Any) -> int:
    """`digits read IMAGE...` without --show: expand, skip what --out holds, read on --jobs processes."""
    from digitreader import bulk

    entries = expand(args.images, args.recursive)
    out = Results(Path(args.out), args.details) if args.out else None
    skipped = 0
    if out is not None:
        before = len(entries)
        entries = [e for e in entries if e.error is not None or out.key(e.path) not in out.done]
        skipped = before - len(entries)
    progress = _progress(len(entries)) if out is not None else None
    start = time.perf_counter()
    read = unreadable = 0
    results = bulk.results(recognizer, (e.path for e in entries if e.error is None), args.mode, args.jobs)
    try:
        for entry in entries:
            result: Any = DigitreaderError(entry.error) if entry.error else next(results)
            if isinstance(result, bulk.Failure | DigitreaderError):
                unreadable += 1
                error = result.error if isinstance(result, bulk.Failure) else result
                _say(f"digits: error: {error}", progress)
            else:
                read += 1
                if out is not None:
                    out.add(entry.path, result)
                else:
                    _print(entry.path, result, args)
            if progress is not None:
                progress.update(1)
    finally:
        results.close()
        if progress is not None:
            progress.close()
        if out is not None:
            out.close()
    if out is not None:  # stdout holds no results then: the summary and errors are all there is to see
        seconds = time.perf_counter() - start
        kept = f", {skipped:,} already in {printable(str(out.path))}" if skipped else ""
        rate = f" ({(read + unreadable) / seconds:,.0f} pictures/s)" if seconds > 0 and read else ""
        print(
            f"digits: {len(entries):,} pictures: {read:,} read, {unreadable:,} unreadable{kept}; "
            f"{seconds:.1f} s{rate}",
            file=sys.stderr,
            flush=True,
        )
    return 2 if unreadable else 0


def _print(path: str, reading: Reading, args: Any) -> None:
    if args.json:
        print(json.dumps(reading.to_dict(path, details=args.details)), flush=True)
    else:
        text = reading.text.replace("\n", " ") if reading.digits else no_digits_text(reading, args.mode)
        print(f"{printable(path)}: {text}", flush=True)


def no_digits_text(reading: Reading, mode: str) -> str:
    """The line's text for a picture without digits: the reading's notes and what the user may try."""
    hint = (
        "try a crop around the digit" if mode == "digit" else "try --mode digit, or a crop around the writing"
    )
    return f"({'; '.join((*reading.notes, hint))})"


def _progress(total: int) -> Any:
    from tqdm import tqdm

    # disable=None: drawn on a terminal only (a log file gets the summary line alone)
    return tqdm(total=total, unit="picture", file=sys.stderr, disable=None, dynamic_ncols=True)


def _say(line: str, progress: Any) -> None:
    if progress is not None:
        progress.write(line, file=sys.stderr)
    else:
        print(line, file=sys.stderr, flush=True)
