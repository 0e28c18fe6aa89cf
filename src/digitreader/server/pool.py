"""Reading in worker processes (`digits serve --workers N`, N > 1).

Much of a read is Python code holding the interpreter lock, so threads in one process cannot keep several
cores busy. Each worker process here loads the model once and reads one picture at a time; the server's
own process only speaks HTTP. Work is handed out per request, so a busy worker never holds back a request
another could take (uvicorn's own `--workers` share out connections instead, and a burst of keep-alive
connections can all land on one process).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from digitreader.reading import Reading

_recognizer: Any = None  # the worker process's own recogniser, set by `_start`


def prepare_reading_process() -> None:
    """Settings for a process that reads for the server (the server's own, or a worker).

    The allocator is tuned for a long run, and OpenCV keeps to one thread: requests are read side by side,
    one per core, and OpenCV's own threads on top only add switching on these small images (measured:
    9.2 -> 8.5 ms CPU per single-digit read).
    """
    import cv2

    from digitreader.server.memory import steady_malloc

    steady_malloc()
    cv2.setNumThreads(1)


def _start(model: str | None, threads: int) -> None:
    """Runs once in each worker process."""
    global _recognizer
    from digitreader.recognizer import Recognizer

    prepare_reading_process()
    _recognizer = Recognizer.load(model, threads=threads)


def _started() -> int:
    time.sleep(0.2)  # long enough that the start-up calls spread over all the processes
    return os.getpid()


def _read(data: bytes, mode: str) -> Reading:
    reading: Reading = _recognizer.read(data, mode=mode)
    return reading


class ReadPool:
    """`workers` processes with the model at `model` (None: the bundled one), `threads` ORT threads each."""

    def __init__(self, workers: int, model: Path | None, threads: int) -> None:
        self.workers = workers
        self._args = (None if model is None else str(model), threads)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),  # a fresh interpreter: no forked ORT threads
            initializer=_start,
            initargs=self._args,
        )

    async def start(self) -> list[int]:
        """Start every process and load its model; their process ids."""
        loop = asyncio.get_running_loop()
        pids = await asyncio.gather(
            *(loop.run_in_executor(self._pool, _started) for _ in range(self.workers))
        )
        return sorted(set(pids))

    async def read(self, data: bytes, mode: str) -> Reading:
        """The reading of one picture, from whichever process is free. Errors raised by the reader come back
        as themselves; a process that died takes its pool with it, and a new pool serves the next request."""
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _read, data, mode)
        except BrokenProcessPool:
            if self._pool is pool:
                self._pool = self._new_pool()
                pool.shutdown(wait=False, cancel_futures=True)
            raise

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
