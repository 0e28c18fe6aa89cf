"""How many reads the server takes on, and in what order it reads them.

- At most `readers + slow_readers + max_queued` reads are admitted at once (read or waiting to be); one more
  is answered 503 with Retry-After at once, rather than waiting without end behind the others.
- `readers` reads run side by side in the fast lane (one per core keeps ONNX Runtime from thrashing and
  bounds decoded-image memory). A read that has used `slow_after` seconds of CPU (a huge photo, a picture
  full of marks: most reads take milliseconds) leaves the fast lane for the slow one, which reads
  `slow_readers` at a time, so three slow uploads cannot hold up everyone else's reads.
- A read whose client has gone stops waiting, and stops reading at its next budget check.

Each admitted read has its own thread (it waits for a lane there); the threads come from a limiter of
exactly the admitted reads, so the server's other thread work (static files) never waits behind reads.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from digitreader.errors import ReadCancelledError

T = TypeVar("T")

SLOW_AFTER_S = 0.5  # CPU seconds after which a read moves to the slow lane


class Busy(Exception):
    """The server has admitted as many reads as it may: the client should retry shortly."""


class Admission:
    """The reads in the server: admitted (a bounded number), each reading in the fast or the slow lane."""

    def __init__(
        self, readers: int, slow_readers: int, max_queued: int, slow_after: float = SLOW_AFTER_S
    ) -> None:
        self.capacity = readers + slow_readers + max_queued
        self.slow_after = slow_after
        self.admitted = 0
        self._threads = anyio.CapacityLimiter(self.capacity)
        self._free = {"fast": readers, "slow": slow_readers}
        self._waiting: dict[str, deque[threading.Event]] = {"fast": deque(), "slow": deque()}
        self._lock = threading.Lock()

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count one read in for the enclosed block, or raise `Busy` when the server is full (event loop)."""
        if self.admitted >= self.capacity:
            raise Busy(f"the server is busy ({self.admitted} reads in hand); try again shortly")
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def run(self, work: Callable[[Callable[[], None]], T], cancel: threading.Event) -> T:
        """`work(on_slow)` in a thread of its own, once the fast lane has room; `on_slow` moves it to the
        slow lane (waiting there for room). `cancel` set: it stops waiting (`ReadCancelledError`)."""

        def in_lanes() -> T:
            held = ["fast"]
            self._take("fast", cancel)

            def on_slow() -> None:
                self._give("fast")
                held.pop()
                self._take("slow", cancel)
                held.append("slow")

            try:
                return work(on_slow)
            finally:
                for lane in held:
                    self._give(lane)

        return await anyio.to_thread.run_sync(in_lanes, limiter=self._threads)

    def _take(self, lane: str, cancel: threading.Event) -> None:
        """A place in `lane`: at once if one is free and nobody waits, else handed over in arrival order."""
        with self._lock:
            if self._free[lane] > 0 and not self._waiting[lane]:
                self._free[lane] -= 1
                return
            turn = threading.Event()
            self._waiting[lane].append(turn)
        while not turn.wait(0.1):
            if cancel.is_set():
                with self._lock:
                    if not turn.is_set():  # still waiting: leave the queue
                        self._waiting[lane].remove(turn)
                        raise ReadCancelledError("reading stopped: nobody is waiting for it any more")
                self._give(lane)  # the place came as it was cancelled: pass it on
                raise ReadCancelledError("reading stopped: nobody is waiting for it any more")

    def _give(self, lane: str) -> None:
        with self._lock:
            if self._waiting[lane]:
                self._waiting[lane].popleft().set()  # straight to the one waiting longest
            else:
                self._free[lane] += 1

    def status(self) -> dict[str, Any]:
        """Reads in hand and free places in each lane (for logs and tests)."""
        with self._lock:
            return {"admitted": self.admitted, "capacity": self.capacity, **self._free}
