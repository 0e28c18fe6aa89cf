"""A user's own labelled digit images -> a packed dataset folder, and loading it back.

Sources (`build_dataset`):
- a folder tree ``SRC/0/*.png ... SRC/9/*.jpg`` (subfolders inside a class folder are searched too), or
- a CSV file of ``path,label`` rows (paths relative to the CSV's folder; a header row is optional).

Each image goes through exactly what the recogniser does for one digit: `vision.load.load_image` then
`vision.preprocess.prepare_single_digit`, in a process pool. Only regular files of at most
`user_files.MAX_FILE_BYTES` are read (a FIFO would block the build, /dev/zero would fill memory), and in a
folder tree a link leading outside SRC is refused: each such file is listed with the reason, like any
unreadable one. The dataset folder holds:
- ``images.npy``  (N, 28, 28) uint8, ink bright, MNIST framing;
- ``labels.npy``  (N,) int64;
- ``index.json``  format version, preprocessing version, source, creation time, counts per class, every
  source file (path, label, sha256) in image order, and the skipped files with reasons.
It is written into a hidden temp folder beside ``OUT`` and renamed into place, so a failure or Ctrl-C leaves
no ``OUT`` and no temp folder. `load_dataset` memory-maps the images and validates the index.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Generator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from digitreader.contract import DATASET_PREPROCESSING
from digitreader.data.user_files import (
    IMAGE_SUFFIXES,
    MAX_FILE_BYTES,
    Refused,
    Skipped,
    read_labels_csv,
    read_limited,
)
from digitreader.errors import DataError, DigitreaderError
from digitreader.files import sha256_bytes
from digitreader.names import printable

log = logging.getLogger(__name__)

DATASET_FORMAT = "digitreader-dataset"
DATASET_VERSION = 1
INDEX_NAME, IMAGES_NAME, LABELS_NAME = "index.json", "images.npy", "labels.npy"
_SERIAL_BELOW = 200  # with workers=None, fewer images than this are decoded in-process (a pool costs ~1 s)


@dataclass(frozen=True)
class BuildSummary:
    """What `build_dataset` did: images written, per class, and what it skipped."""

    out: Path
    source: Path
    count: int
    per_class: tuple[int, ...]
    skipped: tuple[Skipped, ...] = field(default=())


@dataclass(frozen=True, eq=False)
class LabelledImages:
    """A built dataset: images (N, 28, 28) uint8 memory-mapped read-only, labels (N,) int64, the index."""

    images: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class _Item:
    """One image to decode: where it is, how it is named in the index, its label."""

    path: Path
    name: str
    label: int


def build_dataset(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    strict: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> BuildSummary:
    """Decode and normalise the labelled images in `src` into the dataset folder `out`.

    Unreadable files (and unsupported names, bad CSV lines, blank images) are skipped and listed in the
    summary; with `strict` the first one raises `DataError` instead. `workers` processes decode the images
    (default: up to 8, one per CPU; 0 or 1 decodes in this process). Raises `DataError` when `out` exists,
    `src` is neither a class-folder tree nor a CSV, or no image could be used.
    """
    src, out = Path(src).expanduser(), Path(out).expanduser()
    if out.exists():
        raise DataError(f"{out}: already exists (choose another --out or remove it)")
    items, skipped, kind = _list_sources(src)
    # Names in the index are relative to SRC (or to the CSV's folder); errors name the full path.
    root = src.parent if kind == "csv" else src
    if strict and skipped:
        raise DataError(f"{printable(str(root / skipped[0].path))}: {printable(skipped[0].reason)}")
    if not items:
        raise DataError(f"{src}: no image files found")

    images: list[np.ndarray] = []
    files: list[dict[str, Any]] = []
    with contextlib.closing(_decode_all(items, workers, progress)) as results:
        for item, digest, image, reason in results:
            if image is None:
                if strict:
                    raise DataError(f"{printable(str(root / item.name))}: {printable(reason)}")
                skipped.append(Skipped(item.name, reason))
                continue
            images.append(image)
            files.append({"path": item.name, "label": item.label, "sha256": digest})
    for s in skipped:
        log.info("skipped %s: %s", printable(s.path), printable(s.reason))
    if not images:
        raise DataError(f"{src}: none of its {len(items)} images could be used (first: {skipped[0].reason})")

    labels = np.array([f["label"] for f in files], dtype=np.int64)
    per_class = tuple(int(c) for c in np.bincount(labels, minlength=10))
    index = {
        "format": DATASET_FORMAT,
        "version": DATASET_VERSION,
        "preprocessing_version": DATASET_PREPROCESSING,
        "source": str(src.resolve()),
        "source_kind": kind,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "count": len(files),
        "shape": [28, 28],
        "classes": {str(d): n for d, n in enumerate(per_class)},
        "files": files,
        "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
    }
    _write_atomically(out, np.stack(images), labels, index)
    return BuildSummary(out=out, source=src, count=len(files), per_class=per_class, skipped=tuple(skipped))


def load_dataset(path: str | os.PathLike[str]) -> LabelledImages:
    """Open a dataset folder made by `build_dataset`; `DataError` when it is missing or inconsistent."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise DataError(f"{path}: dataset folder not found")
    index_path = path / INDEX_NAME
    try:
        meta = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(
            f"{path}: not a dataset folder (no {INDEX_NAME}; make one with 'digits data build')"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{index_path}: unreadable index ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != DATASET_FORMAT:
        raise DataError(f"{index_path}: not a digitreader dataset index")
    if meta.get("version") != DATASET_VERSION:
        raise DataError(
            f"{index_path}: dataset format version {meta.get('version')!r}, expected {DATASET_VERSION}"
        )
    if meta.get("preprocessing_version") != DATASET_PREPROCESSING:
        raise DataError(
            f"{path}: built with preprocessing {meta.get('preprocessing_version')!r}, but this digitreader "
            f"uses {DATASET_PREPROCESSING!r}; rebuild it with 'digits data build'"
        )
    images = _load_npy(path / IMAGES_NAME, mmap=True)
    labels = _load_npy(path / LABELS_NAME, mmap=False)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DataError(
            f"{path / IMAGES_NAME}: expected uint8 (N, 28, 28), got {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{path / LABELS_NAME}: {labels.dtype} {labels.shape} does not match {len(images)} images"
        )
    if len(images) != meta.get("count"):
        raise DataError(f"{index_path}: says {meta.get('count')} images, {IMAGES_NAME} has {len(images)}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path / LABELS_NAME}: labels outside 0..9")
    return LabelledImages(images=images, labels=labels.astype(np.int64), meta=meta, path=path)


# --- listing the sources -------------------------------------------------------------------------------


def _list_sources(src: Path) -> tuple[list[_Item], list[Skipped], str]:
    if src.is_file():
        if src.suffix.lower() != ".csv":
            raise DataError(f"{src}: a dataset source is a folder of 0..9 class folders or a .csv file")
        items, skipped = _list_csv(src)
        return items, skipped, "csv"
    if not src.is_dir():
        raise DataError(f"{src}: no such folder or CSV file")
    items, skipped = _list_tree(src)
    return items, skipped, "folder"


def _list_tree(src: Path) -> tuple[list[_Item], list[Skipped]]:
    class_dirs = [src / str(d) for d in range(10) if (src / str(d)).is_dir()]
    if not class_dirs:
        raise DataError(f"{src}: no class folders 0..9 (expected {src}/0/*.png ... {src}/9/*.png)")
    others = sorted(p.name for p in src.iterdir() if p.is_dir() and p not in class_dirs and p.name[0] != ".")
    if others:
        log.warning("%s: ignoring folders that are not 0..9: %s", src, ", ".join(others))
    items: list[_Item] = []
    skipped: list[Skipped] = []
    inside = src.resolve()
    for class_dir in class_dirs:
        label = int(class_dir.name)
        for path in sorted(class_dir.rglob("*")):
            rel = path.relative_to(src)
            if any(part.startswith(".") for part in rel.parts) or path.is_dir():
                continue  # hidden files (.DS_Store) and folders
            if not path.resolve().is_relative_to(inside):  # a link to someone else's files
                skipped.append(Skipped(rel.as_posix(), "a link to a file outside the source folder"))
                continue
            if not path.is_file():
                skipped.append(Skipped(rel.as_posix(), "not a regular file"))
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(
                    Skipped(rel.as_posix(), f"not an image file name ({path.suffix or 'no suffix'})")
                )
                continue
            items.append(_Item(path, rel.as_posix(), label))
    return items, skipped


def _list_csv(src: Path) -> tuple[list[_Item], list[Skipped]]:
    rows = read_labels_csv(src, "label", lambda cells: not _is_int(cells[1] if len(cells) > 1 else ""))
    items: list[_Item] = []
    skipped: list[Skipped] = []
    for row in rows:
        if isinstance(row, Skipped):
            skipped.append(row)
        elif not _is_int(row.value) or not 0 <= int(row.value) <= 9:
            skipped.append(Skipped(row.where, f"label {row.value!r} is not a digit 0..9"))
        else:
            items.append(_Item(row.path, row.name, int(row.value)))
    return items, skipped


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


# --- decoding ------------------------------------------------------------------------------------------


def _decode_one(item: _Item) -> tuple[_Item, str, np.ndarray | None, str]:
    """Read, hash and normalise one image: (item, sha256, image or None, reason when None)."""
    from digitreader.vision.load import load_image
    from digitreader.vision.preprocess import prepare_single_digit

    try:
        data = read_limited(item.path, MAX_FILE_BYTES)
    except FileNotFoundError:
        return item, "", None, "no such file"
    except Refused as exc:
        return item, "", None, str(exc)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in a CSV path
        return item, "", None, f"cannot read ({getattr(exc, 'strerror', None) or exc})"
    digest = sha256_bytes(data)
    try:
        image = prepare_single_digit(load_image(data, name=item.name))
    except DigitreaderError as exc:
        message = str(exc)
        return item, digest, None, message.removeprefix(f"{item.name}: ")
    except Exception as exc:  # one odd file must not end a long build; it is reported with its reason
        log.debug("unexpected error decoding %s", item.name, exc_info=True)
        return item, digest, None, f"cannot decode ({type(exc).__name__}: {exc})"
    if image is None:
        return item, digest, None, "no digit found (blank image)"
    return item, digest, image, ""


def _decode_all(
    items: list[_Item], workers: int | None, progress: bool
) -> Generator[tuple[_Item, str, np.ndarray | None, str], None, None]:
    """Decode `items` in order, in a process pool unless told (or too few to be worth it) otherwise."""
    if workers is None:
        workers = 1 if len(items) < _SERIAL_BELOW else min(8, os.cpu_count() or 1)
    bar = tqdm(total=len(items), desc="decoding", unit="img", file=sys.stderr, disable=not progress)
    if workers <= 1:
        with bar:
            for item in items:
                yield _decode_one(item)
                bar.update()
        return
    pool = _make_pool(workers)
    try:
        chunksize = max(1, min(64, len(items) // (workers * 8)))
        for result in pool.map(_decode_one, items, chunksize=chunksize):
            yield result
            bar.update()
    finally:
        # On success the pool is idle; on an error or Ctrl-C, drop the queued work instead of finishing it.
        bar.close()
        pool.shutdown(wait=True, cancel_futures=True)


def _make_pool(workers: int) -> Executor:
    # forkserver (or spawn): workers start from a clean process, never a fork of one with threads
    # (OpenCV, torch) running, which can deadlock.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["digitreader.data.folder", "digitreader.vision.preprocess"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_sigint)


def _ignore_sigint() -> None:
    # Ctrl-C is handled by the parent (it cancels the work and removes its temp folder).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- writing -------------------------------------------------------------------------------------------


def _write_atomically(out: Path, images: np.ndarray, labels: np.ndarray, index: dict[str, Any]) -> None:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        # A hidden sibling (same file system, so the rename is atomic) with ordinary permissions.
        tmp = out.parent / f".{out.name}.{secrets.token_hex(6)}.tmp"
        tmp.mkdir()
    except OSError as exc:
        raise DataError(f"{out}: cannot create the dataset folder ({exc.strerror or exc})") from None
    try:
        _save(tmp / IMAGES_NAME, lambda f: np.save(f, images, allow_pickle=False))
        _save(tmp / LABELS_NAME, lambda f: np.save(f, labels, allow_pickle=False))
        body = json.dumps(index, indent=1).encode("utf-8")
        _save(tmp / INDEX_NAME, lambda f: f.write(body))
        os.rename(tmp, out)  # fails, rather than merging, if someone made `out` meanwhile
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise DataError(f"{out}: cannot write the dataset ({exc.strerror or exc})") from None
        raise


def _save(path: Path, write: Any) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def _load_npy(path: Path, *, mmap: bool) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(f"{path}: missing from the dataset folder") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: unreadable ({exc})") from None
