"""A budget for reading one picture: a CPU-time deadline and a cancel switch that the reading steps check.

Python cannot stop a thread from outside, so the steps that can run long on a hostile picture (loops over
the marks found in it, classifier calls) call `check()` between pieces of work; it raises as soon as a
budget in force says stop. Outside any budget `check()` does nothing, so the vision functions stay usable
on their own.

    with read_budget(5.0, "photo.png") as spent:   # the Recognizer, around each picture
        ...                                         # the steps call budget.check() and budget.note(...)
    spent.notes                                     # what the steps want the reader to know

Budgets nest (the server's cancel switch around the recogniser's deadline) and each is checked. Time is the
thread's own CPU time: a read waiting for a core on a busy machine is not cut short, one spinning is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from digitreader.errors import DigitreaderError, ReadCancelledError, ReadTimeoutError

ENV_READ_SECONDS = "DIGITREADER_READ_SECONDS"
# CPU seconds one picture may take. Ordinary pictures take milliseconds and a 50 MP photo about a second;
# a read still going after this is working on noise or an attack.
DEFAULT_READ_SECONDS = 5.0


class ReadBudget:
    """One picture's limits: `seconds` of this thread's CPU time (None: no limit) and a cancel switch.

    `label` names the picture in the error (None: the caller adds the name). `on_slow` is called once, from
    the first check after `slow_after` CPU seconds (the server moves such reads aside: `server.admission`).
    """

    def __init__(
        self,
        seconds: float | None,
        label: str | None = None,
        cancel: threading.Event | None = None,
        *,
        slow_after: float = 0.0,
        on_slow: Callable[[], None] | None = None,
    ) -> None:
        self.seconds = seconds
        self.label = label
        self.cancel = cancel or threading.Event()
        self.notes: list[str] = []
        self._slow_after = slow_after
        self._on_slow = on_slow
        self._start = time.thread_time()

    @property
    def used(self) -> float:
        """CPU seconds this thread has spent since the budget began."""
        return time.thread_time() - self._start

    def check(self) -> None:
        """Raise `ReadCancelledError` once cancelled, `ReadTimeoutError` once over the time."""
        prefix = f"{self.label}: " if self.label else ""
        if self._on_slow is not None and self.used > self._slow_after:
            on_slow, self._on_slow = self._on_slow, None
            on_slow()
        if self.cancel.is_set():
            raise ReadCancelledError(f"{prefix}reading stopped: nobody is waiting for it any more")
        if self.seconds is not None and self.used > self.seconds:
            raise ReadTimeoutError(
                f"{prefix}reading stopped after {self.seconds:g} s of CPU time, the limit per picture "
                "(too much in it to read: noise?)"
            )


_active: ContextVar[tuple[ReadBudget, ...]] = ContextVar("digitreader_read_budgets", default=())


@contextmanager
def read_budget(
    seconds: float | None,
    label: str | None = None,
    cancel: threading.Event | None = None,
    *,
    slow_after: float = 0.0,
    on_slow: Callable[[], None] | None = None,
) -> Iterator[ReadBudget]:
    """Run the enclosed reading steps under a new budget (checked along with any enclosing ones)."""
    spent = ReadBudget(seconds, label, cancel, slow_after=slow_after, on_slow=on_slow)
    token = _active.set((*_active.get(), spent))
    try:
        yield spent
    finally:
        _active.reset(token)


def check() -> None:
    """Raise `ReadTimeoutError` or `ReadCancelledError` if a budget in force says stop; else nothing."""
    for spent in _active.get():
        spent.check()


def note(text: str) -> None:
    """Tell the reader something about this picture (kept by the innermost budget; outside one, dropped)."""
    budgets = _active.get()
    if budgets and text not in budgets[-1].notes:
        budgets[-1].notes.append(text)


def label_of(source: object) -> str | None:
    """How a picture is named in a budget's error: its path, or nothing (the caller names it)."""
    return str(source) if isinstance(source, str | os.PathLike) else None


def resolve_read_seconds(seconds: float | None) -> float | None:
    """The limit a reader uses (None: no limit): `seconds` as given (0: no limit), or with None
    $DIGITREADER_READ_SECONDS, else `DEFAULT_READ_SECONDS`."""
    if seconds is None:
        return read_seconds_from_env()
    if not 0 <= seconds < float("inf"):
        raise DigitreaderError(f"read_seconds {seconds!r}: expected seconds, a positive number (0: no limit)")
    return float(seconds) or None


def read_seconds_from_env() -> float | None:
    """$DIGITREADER_READ_SECONDS (0: no limit), else `DEFAULT_READ_SECONDS`."""
    raw = os.environ.get(ENV_READ_SECONDS, "").strip()
    if not raw:
        return DEFAULT_READ_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise DigitreaderError(
            f"{ENV_READ_SECONDS}={raw!r}: expected seconds, a positive number (0: no limit)"
        )
    return value or None
