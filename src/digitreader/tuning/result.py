"""What a fine-tuning returns and the rules every kind of fine-tuning shares: the warning for a held-out
part too small to measure, the refusal of a model worse than its start, the card written beside it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitreader.data.user_files import Skipped
from digitreader.files import atomic_write_bytes, sha256_bytes
from digitreader.tuning.score import Scores
from digitreader.tuning.split import TOO_FEW_TO_MEASURE


@dataclass(frozen=True)
class FinetuneResult:
    """What a fine-tuning did: the before/after figures on the held-out part and whether `out` was written."""

    out: Path
    written: bool
    base: Path
    kind: str  # "sequence" (numbers) or "classifier" (single digits)
    before: Scores
    after: Scores
    table: str
    counts: dict[str, int]
    skipped: tuple[Skipped, ...]
    held_out: tuple[tuple[str, str, str, str], ...]  # (picture, label, read before, read after)
    stopped: str
    steps: int
    seconds: float
    warnings: tuple[str, ...] = field(default=())
    refused: str = ""  # why `out` was not written
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. MNIST test accuracy before and after


def held_out_warnings(n_held: int) -> list[str]:
    """The warning a held-out part too small to measure anything gets (none for a large enough one)."""
    if n_held >= TOO_FEW_TO_MEASURE:
        return []
    return [
        f"only {n_held} held-out pictures: too few to tell a real change from chance "
        f"(one picture is {1 / max(1, n_held):.0%}); label more pictures to measure the change"
    ]


def refusal(before: Scores, after: Scores, out_path: Path, base_name: str, force: bool) -> str:
    """Why the new model is not written ("" when it is): it reads the held-out part worse than its start
    (fewer exact, or as many exact and fewer right digits) and `force` is not set."""
    if force or (after.exact, after.digits) >= (before.exact, before.digits):
        return ""
    return (
        f"{out_path}: not written: it reads the held-out pictures worse than {base_name} "
        f"(exact {before.exact_rate:.1%} -> {after.exact_rate:.1%}); --force writes it anyway"
    )


def write_card(out_path: Path, data: bytes, kind: str, model: str, record: dict[str, Any]) -> None:
    """The model's card, ``MODEL.json`` beside ``MODEL.onnx``: where it started, on what, how, with what
    result (the same record is in the file's metadata, under ``finetune``)."""
    from digitreader.training.export import git_commit

    card: dict[str, Any] = {
        "file": out_path.name,
        "sha256": sha256_bytes(data),
        "model": model,
        "kind": kind,
    }
    card.update(record)  # base, pictures, recipe, before, after, rounds, ...
    card["commit"] = git_commit()
    card["notes"] = "Fine-tuned with `digits finetune`; before/after: the held-out part of the same folder."
    atomic_write_bytes(out_path.with_suffix(".json"), (json.dumps(card, indent=2) + "\n").encode())
