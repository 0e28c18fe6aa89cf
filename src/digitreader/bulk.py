"""Reading many pictures on every core: worker processes, each with its own models, fed chunks in order.

Much of a read is Python holding the interpreter lock, so threads cannot keep several cores busy; each
worker process here loads the models once (ONNX Runtime and OpenCV on one thread each: the cores are
shared out by processes) and reads chunks of `CHUNK` pictures, whose digits share ONNX Runtime calls.
Results come back in input order. At most `IN_FLIGHT` chunks per worker are handed out ahead of the one
the caller is waiting for, so memory stays bounded however long the list is (a generator is never read
to its end first).

    for result in results(recognizer, paths, "digit", workers=None):   # Reading or Failure, in order
        ...

A list shorter than `START_FROM` is read in this process: starting workers (imports and models, a few
seconds) would cost more than it saves. The workers started for a recognizer stay up for its later calls
(from `PARALLEL_FROM` pictures) and end with it (`close`).
"""

from __future__ import annotations

import logging
import os
import sys
import types
import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from digitreader.contract import check_mode
from digitreader.errors import DigitreaderError
from digitreader.names import printable
from digitreader.reading import Reading

if TYPE_CHECKING:  # concurrent.futures and multiprocessing load only when workers start (cold reads)
    from concurrent.futures import Future, ProcessPoolExecutor

log = logging.getLogger(__name__)

CHUNK = 32  # pictures per task: their digits share ONNX Runtime calls; the hand-off is per chunk
IN_FLIGHT = 2  # chunks per worker handed out ahead, so none waits while the caller takes results
PARALLEL_FROM = 64  # shorter lists are read in this process, with workers started or not
# Workers are started for a list at least this long: two took 1.4-3.4 s to start (fresh interpreters,
# imports, models; 2 cores shared with other work), what this process reads ~1,000-2,000 small digits in.
START_FROM = 1000
assert CHUNK < PARALLEL_FROM  # so `read_many` reads one chunk in the process it is called in


@dataclass(frozen=True)
class Failure:
    """A picture that could not be read, in its place among the results: the one-line error."""

    error: DigitreaderError


Result = Reading | Failure


class Recognizer(Protocol):
    """What this module needs of a `digitreader.Recognizer` (which uses this module, so is not imported)."""

    read_seconds: float | None

    @property
    def card(self) -> dict[str, Any] | None: ...

    @property
    def path(self) -> Path: ...

    @property
    def sequence_path(self) -> Path | None: ...

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        threads: int | None = None,
        sequence: str | Path | bool | None = None,
        read_seconds: float | None = None,
    ) -> Recognizer: ...

    def read_many(
        self, images: Iterable[Any], mode: str = "auto", *, workers: int | None = None
    ) -> list[Reading]: ...


@dataclass(frozen=True)
class _Models:
    """What a worker needs to load the same models as the caller's recognizer."""

    load: Callable[..., Recognizer]  # the recognizer's class's `load` (pickled by reference)
    path: str | None  # None: the bundled classifier (verified against its card)
    sequence: str | bool  # a sequence reader's file, or False for none
    read_seconds: float  # 0: no limit


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None) -> int:
    """`workers` checked (None: one per core); a one-line `DigitreaderError` for anything below 1."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DigitreaderError(f"workers {workers!r}: expected a whole number, 1 or more (None: every core)")
    return workers


def read_chunk(recognizer: Recognizer, images: list[Any], mode: str) -> list[Result]:
    """Read `images` in one batch, as `Recognizer.read_many` does; a picture that cannot be read becomes a
    `Failure` in its place and the others are still read."""
    from digitreader.vision.load import load_image

    results: list[Result | None] = [None] * len(images)
    loaded: list[tuple[int, Any]] = []
    for i, image in enumerate(images):
        try:
            loaded.append((i, load_image(image)))
        except DigitreaderError as exc:
            results[i] = Failure(exc)
    try:
        readings = recognizer.read_many([gray for _, gray in loaded], mode)
        for (i, _), reading in zip(loaded, readings, strict=True):
            results[i] = reading
    except Exception:  # one picture upset the batch: read one by one to name it; the others go on
        for i, gray in loaded:
            results[i] = _read_one(recognizer, gray, mode, images[i])
    return [r for r in results if r is not None]


def _read_one(recognizer: Recognizer, gray: Any, mode: str, source: Any) -> Result:
    try:
        return recognizer.read_many([gray], mode)[0]
    except Exception as exc:  # a bug too is reported against its picture, not the whole run
        reason = exc if isinstance(exc, DigitreaderError) else f"internal error ({type(exc).__name__}: {exc})"
        name = printable(str(source)) if isinstance(source, str | os.PathLike) else "picture"
        return Failure(DigitreaderError(" ".join(f"{name}: {reason}".split())))


def results(
    recognizer: Recognizer, images: Iterable[Any], mode: str = "auto", workers: int | None = None
) -> Generator[Result, None, None]:
    """One `Reading` or `Failure` per image, in input order, read by `workers` processes (None: every core;
    1, or a short list: this process; see `START_FROM`). Memory stays bounded for any length."""
    check_mode(mode)
    count = resolve_workers(workers)
    it = iter(images)
    head = list(islice(it, START_FROM))
    chunks = _chunks(chain(head, it), CHUNK)
    started = recognizer in _pools and _pools[recognizer][0] == count
    if count == 1 or len(head) < (PARALLEL_FROM if started else START_FROM):
        for chunk in chunks:
            yield from read_chunk(recognizer, chunk, mode)
        return
    pool = _pool(recognizer, count)
    pending: deque[Future[list[Result]]] = deque()
    try:
        for chunk in chunks:
            with _script_hidden():  # the workers start on the first submit
                pending.append(pool.submit(_work, chunk, mode))
            if len(pending) >= count * IN_FLIGHT:
                yield from _result(pending.popleft())
        while pending:
            yield from _result(pending.popleft())
    finally:  # the caller stopped early: what was not started is not read
        for future in pending:
            future.cancel()


@contextmanager
def _script_hidden() -> Iterator[None]:
    """The caller's main module out of sight while workers start: a spawned worker imports it again (its
    code runs again) unless a main guard stops it, and scripts that read without one are common. The
    workers need nothing from it: their code is this module's, their pictures arrays, bytes or paths."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _result(future: Future[list[Result]]) -> list[Result]:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise DigitreaderError(f"a reading process stopped unexpectedly (out of memory?): {exc}") from exc


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


# ------------------------------------------------------------------------------------ worker processes

_pools: weakref.WeakKeyDictionary[Recognizer, tuple[int, ProcessPoolExecutor]] = weakref.WeakKeyDictionary()
_worker: Recognizer | None = None  # the models of this process, when it is a worker


def _models_of(recognizer: Recognizer) -> _Models:
    bundled = recognizer.card is not None  # only the bundled classifier has a card
    sequence = recognizer.sequence_path
    return _Models(
        load=type(recognizer).load,
        path=None if bundled else str(recognizer.path),
        sequence=False if sequence is None else str(sequence),
        read_seconds=recognizer.read_seconds or 0.0,
    )


def _pool(recognizer: Recognizer, workers: int) -> ProcessPoolExecutor:
    """The recognizer's workers, started on first use (again when asked for another number of them)."""
    held = _pools.get(recognizer)
    if held is not None and held[0] == workers:
        return held[1]
    if held is not None:
        held[1].shutdown(wait=True, cancel_futures=True)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: each worker starts a fresh interpreter. A forked one inherits the caller's ONNX Runtime and
    # OpenCV state mid-flight, and was seen to hang loading its models.
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(_models_of(recognizer),),
    )
    _pools[recognizer] = (workers, pool)
    # Waiting for the idle workers to exit: a pool left shutting down in the background when the caller's
    # last reference goes (end of a script) makes the interpreter's exit write to its closed pipe.
    weakref.finalize(recognizer, pool.shutdown, wait=True, cancel_futures=True)
    log.info("reading in %d processes", workers)
    return pool


def close(recognizer: Recognizer) -> None:
    """Stop the recognizer's worker processes, if it started any."""
    held = _pools.pop(recognizer, None)
    if held is not None:
        held[1].shutdown(wait=True, cancel_futures=True)


def _start_worker(models: _Models) -> None:
    import cv2

    global _worker
    cv2.setNumThreads(1)  # one core per process: OpenCV's own threads only add switching on small pictures
    _worker = models.load(models.path, threads=1, sequence=models.sequence, read_seconds=models.read_seconds)


def _work(images: list[Any], mode: str) -> list[Result]:
    assert _worker is not None, "not a reading process"
    return read_chunk(_worker, images, mode)
