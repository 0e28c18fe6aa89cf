"""Read admission: a bounded number of reads, a fast lane and a slow one, and waits given up on cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable

import anyio
import pytest

from digitreader.errors import ReadCancelledError
from digitreader.server.admission import Admission, Busy


def test_one_read_over_the_capacity_is_refused_at_once() -> None:
    admission = Admission(readers=2, slow_readers=1, max_queued=1)
    assert admission.capacity == 4
    with admission.admit(), admission.admit(), admission.admit(), admission.admit():
        with pytest.raises(Busy, match="busy"), admission.admit():
            pass
        assert admission.admitted == 4
    assert admission.admitted == 0
    with admission.admit():  # room again
        pass


def test_a_slow_read_gives_its_fast_place_to_the_next_read() -> None:
    admission = Admission(readers=1, slow_readers=1, max_queued=2)
    in_slow_lane = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def slow(on_slow: Callable[[], None]) -> str:
        on_slow()  # what the budget does once the read has used `slow_after` of CPU
        in_slow_lane.set()
        release.wait(20)
        order.append("slow")
        return "slow"

    def quick(on_slow: Callable[[], None]) -> str:
        order.append("quick")
        return "quick"

    async def main() -> list[str]:
        results: list[str] = []
        async with anyio.create_task_group() as group:

            async def run(work: Callable[[Callable[[], None]], str]) -> None:
                results.append(await admission.run(work, threading.Event()))

            group.start_soon(run, slow)
            await anyio.to_thread.run_sync(in_slow_lane.wait, 20)
            # The only fast place was the slow read's: it left it, so this one reads while that one holds on.
            await run(quick)
            release.set()
        return results

    assert anyio.run(main) == ["quick", "slow"]
    assert order == ["quick", "slow"]
    assert admission.status()["fast"] == 1 and admission.status()["slow"] == 1


def test_a_read_waiting_for_a_lane_stops_when_cancelled() -> None:
    admission = Admission(readers=1, slow_readers=0, max_queued=1)
    holding = threading.Event()
    release = threading.Event()
    called: list[str] = []

    def hold(on_slow: Callable[[], None]) -> None:
        holding.set()
        release.wait(20)

    def never(on_slow: Callable[[], None]) -> None:
        called.append("never")

    async def main() -> None:
        cancel = threading.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(admission.run, hold, threading.Event())
            await anyio.to_thread.run_sync(holding.wait, 20)
            cancel.set()  # its client left while it waited
            with pytest.raises(ReadCancelledError):
                await admission.run(never, cancel)
            release.set()

    anyio.run(main)
    assert called == []


def test_places_are_handed_over_in_arrival_order() -> None:
    admission = Admission(readers=1, slow_readers=0, max_queued=8)
    holding, release = threading.Event(), threading.Event()
    order: list[int] = []

    def first(on_slow: Callable[[], None]) -> None:
        holding.set()
        release.wait(20)

    def numbered(n: int) -> Callable[[Callable[[], None]], None]:
        return lambda on_slow: order.append(n)

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(admission.run, first, threading.Event())
            await anyio.to_thread.run_sync(holding.wait, 20)
            for n in range(6):
                group.start_soon(admission.run, numbered(n), threading.Event())
                while len(admission._waiting["fast"]) < n + 1:  # queued before the next one comes
                    await anyio.sleep(0.005)
            release.set()

    anyio.run(main)
    assert order == [0, 1, 2, 3, 4, 5]
