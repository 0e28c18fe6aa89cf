"""Reading in worker processes (`digits serve --workers N`, N > 1).

Much of a read is Python code holding the interpreter lock, so threads in one process cannot keep several
cores busy. Each worker process here loads the model once and reads one picture at a time; the server's
own process only speaks HTTP. Work is handed out per request to whichever worker is idle, so a busy worker
never holds back a request another could take (uvicorn's own `--workers` share out connections instead,
and a burst of keep-alive connections can all land on one process).

Each worker talks to the server over its own socket pair, which the event loop reads directly: a request
is one frame out and one frame back, with no threads in between. (A `ProcessPoolExecutor` routes every
call through a manager thread and a queue-feeder thread: measured with a no-op read and a 19 kB picture,
0.29 ms of the server's CPU per call, against 0.04 ms here.) Frames are a 4-byte length and a pickle:
both ends are this module's own processes, and no client bytes are ever unpickled (the image travels as a
bytes object inside the pickle).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from pathlib import Path
from typing import Any

from digitreader import budget
from digitreader.errors import DigitreaderError
from digitreader.reading import Reading

log = logging.getLogger(__name__)

_LENGTH = struct.Struct("<I")
IN_HAND = 2  # pictures a worker is given at once (see ReadPool)
_START_TIMEOUT_S = 120.0  # a worker imports ONNX Runtime and loads the model: seconds, not minutes
_LARGE_PIXELS = 4_000_000  # after a picture this large, free memory goes back to the system


class WorkerDiedError(Exception):
    """A reading process exited while reading (the server answers 500 and starts another)."""


def prepare_reading_process() -> None:
    """Settings for a process that reads for the server (the server's own, or a worker).

    OpenCV keeps to one thread: requests are read side by side, one per core, and OpenCV's own threads on
    top only add switching on these small images (measured: 9.2 -> 8.5 ms CPU per single-digit read). The
    allocator is tuned apart (`server.memory.steady_malloc`), by `digits serve` and by the reading processes
    it starts, never by building the app: a test or an embedding program keeps its own allocator.
    """
    import cv2

    cv2.setNumThreads(1)


def read_image(recognizer: Any, data: bytes, mode: str, max_pixels: int, name: str | None) -> Reading:
    """Decode `data` under the pixel limit, then read it: the one reading step of the server, in a worker
    process or a thread. Raises `NotAnImageError` (415), `ImageTooLargeError` (413), other `ImageError`."""
    from digitreader.server.memory import give_back
    from digitreader.vision.load import load_image

    gray = load_image(data, max_pixels=max_pixels, name=name or "the upload")
    budget.check()  # decoding may have been the slow part (a huge photo): a place to move aside or stop
    reading: Reading = recognizer.read(gray, mode=mode)
    if gray.size >= _LARGE_PIXELS:
        del gray
        give_back()
    return reading


# ------------------------------------------------------------------------------------------ worker side


def _send(sock: socket.socket, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_LENGTH.pack(len(body)) + body)


def _receive(stream: Any) -> Any | None:
    try:
        head = stream.read(_LENGTH.size)
    except ConnectionError:  # the server went away without closing cleanly: the same as EOF
        return None
    if len(head) < _LENGTH.size:
        return None  # the server closed the socket: time to go
    (length,) = _LENGTH.unpack(head)
    return pickle.loads(stream.read(length))


def _worker_main(
    sock: socket.socket, model: str | None, threads: int, max_pixels: int, read_seconds: float
) -> None:
    """A worker process: load the model, say "ready" (or why not), then answer requests until EOF."""
    from digitreader.recognizer import Recognizer

    # Ctrl+C reaches the whole process group: the server stops the workers itself (EOF on their sockets),
    # each after the picture in hand, with no KeyboardInterrupt traceback from every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from digitreader.server.memory import steady_malloc

    steady_malloc()  # a process that only ever reads for the server
    prepare_reading_process()
    try:
        recognizer = Recognizer.load(model, threads=threads, read_seconds=read_seconds)
    except DigitreaderError as exc:
        _send(sock, ("failed", str(exc)))
        return
    _send(sock, ("ready", os.getpid()))
    stream = sock.makefile("rb")
    while (request := _receive(stream)) is not None:
        data, mode, name = request
        try:
            answer: tuple[str, Any] = ("ok", read_image(recognizer, data, mode, max_pixels, name))
        except DigitreaderError as exc:
            answer = ("error", exc)  # our errors pickle as themselves
        except Exception as exc:  # a bug: its text travels (its type might not pickle), the server logs it
            answer = ("bug", f"{type(exc).__name__}: {exc}")
        try:
            _send(sock, answer)
        except ConnectionError:
            return  # the server is gone: nobody to answer


# ------------------------------------------------------------------------------------------ server side


class _Worker:
    """One reading process, the server's end of its socket, and its requests in flight (answered in order)."""

    def __init__(self, process: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.waiting: collections.deque[asyncio.Future[tuple[str, Any]]] = collections.deque()
        self.listener: asyncio.Task[None] | None = None

    async def receive(self) -> Any:
        (length,) = _LENGTH.unpack(await self.reader.readexactly(_LENGTH.size))
        return pickle.loads(await self.reader.readexactly(length))

    def send(self, request: tuple[bytes, str, str | None]) -> asyncio.Future[tuple[str, Any]]:
        body = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_LENGTH.pack(len(body)) + body)
        answer: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting.append(answer)
        return answer

    async def listen(self) -> None:
        """Hand each answer to the request waiting longest (even one whose client has gone: the answers
        stay in step with the requests); on EOF every request still waiting learns the worker died."""
        try:
            while True:
                answer = await self.receive()
                waiter = self.waiting.popleft()
                if not waiter.done():
                    waiter.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(("died", "the reading process exited"))

    async def stop(self) -> None:
        """Close the socket (EOF: the worker's loop ends), then reap the process (killed if it lingers)."""
        self.writer.close()  # on the event loop: transports are not thread-safe
        await asyncio.to_thread(self._reap)

    def _reap(self) -> None:
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)


class ReadPool:
    """`workers` processes with the model at `model` (None: the bundled one), `threads` ORT threads each,
    refusing images over `max_pixels` (checked in the worker, from the header, before decoding) and reads
    over `read_seconds` of CPU (0: no limit).

    Each worker is given at most `IN_HAND` pictures at once: the one it reads and the next, so it does
    not sit idle while the server, busy with HTTP on a shared core, gets round to sending more (the call
    queue of a `ProcessPoolExecutor` did the same; on 2 cores, 1 and 2 measured alike within noise).
    A new picture goes to the worker with the fewest in hand.
    """

    def __init__(
        self, workers: int, model: Path | None, threads: int, max_pixels: int, read_seconds: float = 5.0
    ) -> None:
        self.workers = workers
        self._args = (None if model is None else str(model), threads, max_pixels, read_seconds)
        self._context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked ORT threads
        self._all: set[_Worker] = set()
        self._free = asyncio.Condition()  # notified when a worker has room again
        self._restarts: set[asyncio.Task[None]] = set()
        self._closed = False

    def pids(self) -> list[int]:
        """The worker processes' ids."""
        return sorted(w.process.pid for w in self._all)

    async def start(self) -> list[int]:
        """Start every process and load its model; their process ids. Raises `DigitreaderError` if a
        worker cannot load the model."""
        started = await asyncio.gather(*(self._spawn() for _ in range(self.workers)), return_exceptions=True)
        failure = next((w for w in started if isinstance(w, BaseException)), None)
        for worker in started:
            if isinstance(worker, _Worker):
                await self._add(worker)
        if failure is not None:
            await self.close()
            raise failure
        return self.pids()

    async def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        process = self._context.Process(target=_worker_main, args=(theirs, *self._args), daemon=True)
        process.start()
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours)
        worker = _Worker(process, reader, writer)
        try:
            status, value = await asyncio.wait_for(worker.receive(), _START_TIMEOUT_S)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            status, value = "failed", f"exit code {process.exitcode}"
        if status != "ready":
            await worker.stop()
            raise DigitreaderError(f"a reading process could not start: {value}")
        return worker

    async def _add(self, worker: _Worker) -> None:
        self._all.add(worker)
        worker.listener = asyncio.get_running_loop().create_task(self._listen(worker))
        async with self._free:
            self._free.notify_all()

    async def _listen(self, worker: _Worker) -> None:
        await worker.listen()
        if worker in self._all:  # EOF while the pool is open: the process died
            log.error("reading process %s died; starting another", worker.process.pid)
            self._replace(worker)

    def _roomiest(self) -> _Worker | None:
        worker = min(self._all, key=lambda w: len(w.waiting), default=None)
        return worker if worker is not None and len(worker.waiting) < IN_HAND else None

    async def read(self, data: bytes, mode: str, name: str | None = None) -> Reading:
        """The reading of one picture, from whichever process has room first. The reader's own errors come
        back as themselves; `WorkerDiedError` if the process died (another one is started in its place)."""
        async with self._free:
            while (worker := self._roomiest()) is None:
                if not self._all and not self._restarts:
                    raise WorkerDiedError("no reading process is running")
                await self._free.wait()
            answer = worker.send((data, mode, name))
        try:
            status, value = await answer
        finally:
            async with self._free:
                self._free.notify()
        if status == "ok":
            reading: Reading = value
            return reading
        if status == "error":
            raise value
        if status == "bug":
            raise RuntimeError(value)
        raise WorkerDiedError(value)

    def _replace(self, dead: _Worker) -> None:
        self._all.discard(dead)

        async def restart() -> None:
            with contextlib.suppress(Exception):
                await dead.stop()
            if self._closed:
                return
            try:
                await self._add(await self._spawn())
            except Exception:
                log.exception("could not start a reading process in place of one that died")
                self._restarts.discard(task)
                async with self._free:  # requests waiting for room learn if no worker is left
                    self._free.notify_all()

        task = asyncio.get_running_loop().create_task(restart())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def close(self) -> None:
        """Stop every worker (each finishes the picture it is reading)."""
        self._closed = True
        for task in list(self._restarts):
            task.cancel()
        workers, self._all = list(self._all), set()
        for worker in workers:
            if worker.listener is not None:
                worker.listener.cancel()
        await asyncio.gather(*(w.stop() for w in workers))
