"""The per-read budget: a CPU deadline and a cancel switch the reading steps check, and notes."""

from __future__ import annotations

import threading

import pytest

from digitreader import budget
from digitreader.errors import DigitreaderError, ReadCancelledError, ReadTimeoutError


def spin(spent: budget.ReadBudget) -> None:
    """Work until the budget's clock has moved (thread CPU time, so only work moves it)."""
    start = spent.used
    total = 0
    while spent.used == start:
        total += sum(range(1000))


def test_check_outside_any_budget_does_nothing() -> None:
    budget.check()
    budget.note("dropped")  # nobody to keep it


def test_over_the_time_the_next_check_raises_naming_the_picture() -> None:
    with budget.read_budget(1e-9, "scan.png") as spent:
        spin(spent)
        with pytest.raises(ReadTimeoutError, match=r"^scan\.png: reading stopped after 1e-09 s of CPU time"):
            budget.check()


def test_without_a_label_the_message_starts_with_the_reason() -> None:
    with budget.read_budget(1e-9) as spent:
        spin(spent)
        with pytest.raises(ReadTimeoutError, match=r"^reading stopped after"):
            budget.check()


def test_no_limit_never_raises() -> None:
    with budget.read_budget(None) as spent:
        spin(spent)
        budget.check()


def test_a_cancelled_budget_raises_even_inside_a_generous_one() -> None:
    cancel = threading.Event()
    with budget.read_budget(None, cancel=cancel), budget.read_budget(100.0, "a.png"):
        budget.check()
        cancel.set()
        with pytest.raises(ReadCancelledError, match="nobody is waiting"):
            budget.check()
    budget.check()  # the budgets are gone with their blocks


def test_notes_go_to_the_innermost_budget_once_each() -> None:
    with budget.read_budget(None) as outer:
        with budget.read_budget(None) as inner:
            budget.note("noisy")
            budget.note("noisy")
        budget.note("outer")
    assert inner.notes == ["noisy"]
    assert outer.notes == ["outer"]


def test_budgets_of_other_threads_are_not_seen() -> None:
    seen: list[BaseException | None] = []

    def other() -> None:
        try:
            budget.check()
            seen.append(None)
        except DigitreaderError as exc:
            seen.append(exc)

    with budget.read_budget(1e-9) as spent:
        spin(spent)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen == [None]


@pytest.mark.parametrize(("raw", "expected"), [("", 5.0), ("2.5", 2.5), ("0", None), (" 10 ", 10.0)])
def test_the_limit_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: float | None
) -> None:
    monkeypatch.setenv(budget.ENV_READ_SECONDS, raw)
    assert budget.resolve_read_seconds(None) == expected
    assert budget.resolve_read_seconds(3) == 3.0  # given beats the environment
    assert budget.resolve_read_seconds(0) is None


@pytest.mark.parametrize("raw", ["-1", "abc", "nan", "inf"])
def test_a_bad_limit_in_the_environment_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv(budget.ENV_READ_SECONDS, raw)
    with pytest.raises(DigitreaderError, match=f"^DIGITREADER_READ_SECONDS={raw!r}: expected seconds"):
        budget.resolve_read_seconds(None)
    with pytest.raises(DigitreaderError, match="expected seconds"):
        budget.resolve_read_seconds(float(raw) if raw != "abc" else -2.0)
