"""Several checkpoints -> one model that averages their probabilities, and its export as ONE ONNX graph.

    >>> export_ensemble_onnx(["runs/a/best.pt", "runs/b/best.pt", "runs/c/best.pt"], "ensemble.onnx")

The exported file looks like any single model to its readers: input ``image`` float32 ``[N, 1, 28, 28]`` in
[0, 1], output ``probabilities`` ``[N, 10]`` (the mean of the members' softmax outputs), and the same
``digitreader`` metadata, with ``model`` = ``"ensemble"`` and a ``members`` list naming each checkpoint.
Each member keeps its own normalisation inside the graph, so members with different mean/std mix freely;
the framing (size, box, centre, ink) must be the same for all of them. The export is checked against torch
exactly as a single model's is (see `export.export_model`).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from digitreader.contract import NUM_CLASSES
from digitreader.errors import ModelError
from digitreader.files import sha256_file
from digitreader.training.checkpoint import Checkpoint, build_model_from_checkpoint, load_checkpoint
from digitreader.training.export import N_CHECK, TOLERANCE, export_with_data
from digitreader.training.onnx_io import ExportResult

# Preprocessing entries that live inside each member's graph and may differ between members.
_PER_MEMBER = ("mean", "std")


class Ensemble(nn.Module):
    """Average of the members' probabilities. `forward` returns its log, i.e. logits whose softmax is it."""

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([F.log_softmax(member(x), dim=1) for member in self.members])
        # log(mean_k p_k) computed stably: logsumexp over the members minus log K.
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


def load_ensemble(checkpoints: Sequence[str | os.PathLike[str]]) -> tuple[Ensemble, list[Checkpoint]]:
    """The members' models (eval mode, EMA weights where kept) in one `Ensemble`, and their checkpoints."""
    if len(checkpoints) < 2:
        raise ModelError("an ensemble needs at least two checkpoints")
    loaded = [load_checkpoint(path) for path in checkpoints]
    common_preprocessing(loaded)  # raises when the members frame digits differently
    return Ensemble([build_model_from_checkpoint(ckpt) for ckpt in loaded]).eval(), loaded


def common_preprocessing(members: Sequence[Checkpoint]) -> dict[str, Any]:
    """The input convention every member shares (mean/std apart); differing framing raises ModelError."""
    first = members[0]
    reference = {k: v for k, v in first.preprocessing.items() if k not in _PER_MEMBER}
    for other in members[1:]:
        theirs = {k: v for k, v in other.preprocessing.items() if k not in _PER_MEMBER}
        if theirs != reference:
            raise ModelError(
                f"{other.path}: prepares digits differently from {first.path} ({theirs} vs {reference})"
            )
    return reference


def export_ensemble_onnx(
    checkpoints: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_check: int = N_CHECK,
    tolerance: float = TOLERANCE,
    int8: bool = False,
) -> ExportResult:
    """Export the probability average of `checkpoints` to `out` as one ONNX graph, checked against torch.

    `int8`: quantised and checked against the float graph exactly as a single model (`export.export_onnx`).
    """
    ensemble, members = load_ensemble(checkpoints)
    listed = [
        {
            "checkpoint": ckpt.path.name,
            "sha256": sha256_file(ckpt.path),
            "model": ckpt.model_name,
            "config": _plain(ckpt.config),
            "preprocessing": _plain(ckpt.preprocessing),
            "epoch": ckpt.epoch,
            "step": ckpt.step,
            "metrics": _plain({k: v for k, v in ckpt.metrics.items() if k != "history"}),
        }
        for ckpt in members
    ]
    metadata = {
        "model": "ensemble",
        "config": {"members": [ckpt.model_name for ckpt in members], "combine": "mean of probabilities"},
        "preprocessing": _plain(common_preprocessing(members)),
        "labels": list(range(NUM_CLASSES)),
        "metrics": {
            "member_test_accuracy": [ckpt.metrics.get("test_accuracy") for ckpt in members],
        },
        "members": listed,
        "source": {"checkpoints": [m["checkpoint"] for m in listed]},
    }
    return export_with_data(ensemble, out, metadata, data_dir, n_check, tolerance, int8)


def _plain(value: Any) -> Any:
    """Plain JSON values (tuples become lists, anything odd its str)."""
    return json.loads(json.dumps(value, default=str))
