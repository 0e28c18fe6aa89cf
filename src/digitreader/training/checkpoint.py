"""Self-describing checkpoints: atomic save, safe load, and the model rebuilt from the file alone.

A checkpoint is a dict of plain types and tensors (no pickled classes, no numpy objects), so it loads with
`torch.load(weights_only=True)`, which never executes code from the file:

    format          "digitreader-checkpoint/1"
    model_name      registry name, e.g. "cnn"
    config          the model's config as a dict (enough to rebuild the architecture)
    preprocessing   what the model expects: size 28, box 20, centre "mass", ink "bright", range [0, 1],
                    mean, std
    recipe          the training recipe as a dict
    epoch, step     progress when saved (completed epochs, optimiser steps)
    metrics         dict of numbers (and a per-epoch history)
    model_state     the module's state dict
    optimizer_state, scheduler_state, ema_state, rng    what `--resume` needs to continue exactly
    tensor_sha256   SHA-256 of every tensor in the file (names, dtypes, shapes, bytes), checked on load:
                    a flipped bit in a weight makes the file refused, not a model that reads wrong

    >>> ckpt = load_checkpoint("runs/cnn/best.pt")
    >>> model = build_model_from_checkpoint(ckpt)   # eval mode, EMA weights when the run kept them

Writing is atomic (temp file, fsync, rename): a failed write -- a full disk -- is one `DigitreaderError` line
and leaves every earlier checkpoint as it was. `load_newest_intact` picks the newest checkpoint of a run
that loads and matches its checksum (a damaged `last.pt` falls back to the last epoch's).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from digitreader.contract import PREPROCESSING_VERSION, classifier_preprocessing
from digitreader.errors import DigitreaderError, ModelError
from digitreader.files import atomic_file
from digitreader.models.base import DigitModel
from digitreader.models.registry import get_spec

log = logging.getLogger(__name__)

FORMAT = "digitreader-checkpoint/1"
DIGEST_KEY = "tensor_sha256"
_REQUIRED = ("model_name", "config", "preprocessing", "recipe", "epoch", "step", "metrics", "model_state")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: what it describes, plus the raw dict in `state`."""

    path: Path
    model_name: str
    config: dict[str, Any]
    preprocessing: dict[str, Any]
    recipe: dict[str, Any]
    epoch: int
    step: int
    metrics: dict[str, Any]
    state: dict[str, Any] = field(repr=False)


def preprocessing_for(model: DigitModel) -> dict[str, Any]:
    """The input convention a model was trained with: its own (`preprocessing()`, the sequence reader's
    strip) or MNIST framing, mean/std applied inside the model (`contract.classifier_preprocessing`)."""
    own = getattr(model, "preprocessing", None)
    if callable(own):
        return {**own(), "version": PREPROCESSING_VERSION}
    return classifier_preprocessing(model.config.mean, model.config.std)


def _cpu(value: Any) -> Any:
    """A detached CPU copy of every tensor in nested dicts/lists (state dicts may alias live parameters)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {k: _cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cpu(v) for v in value)
    return value


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model_name: str,
    model: DigitModel,
    recipe: Mapping[str, Any],
    epoch: int = 0,
    step: int = 0,
    metrics: Mapping[str, Any] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ema_state: Mapping[str, torch.Tensor] | None = None,
    generator: torch.Generator | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file in the same folder, fsync, rename) and return its path.

    `extra` adds more top-level entries (plain types and tensors only). A crash or Ctrl-C while saving
    leaves the previous file intact, never a partial one.
    """
    path = Path(path)
    state: dict[str, Any] = {
        "format": FORMAT,
        "model_name": model_name,
        "config": model.config.to_dict(),
        "preprocessing": preprocessing_for(model),
        "recipe": dict(recipe),
        "epoch": int(epoch),
        "step": int(step),
        "metrics": dict(metrics or {}),
        "model_state": _cpu(model.state_dict()),
        "optimizer_state": _cpu(optimizer.state_dict()) if optimizer is not None else None,
        "scheduler_state": _cpu(scheduler.state_dict()) if scheduler is not None else None,
        "ema_state": _cpu(dict(ema_state)) if ema_state is not None else None,
        "rng": {
            "torch": torch.get_rng_state(),
            "generator": generator.get_state() if generator is not None else None,
        },
        "versions": {"torch": str(torch.__version__)},
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    state.update(_cpu(dict(extra or {})))
    return _write(path, state)


def tensor_digest(state: Mapping[str, Any]) -> str:
    """SHA-256 over every tensor in `state` (nested dicts and lists), each with its key path, dtype and
    shape, in a fixed order; the digest entry itself is left out."""
    digest = hashlib.sha256()

    def walk(value: Any, where: str) -> None:
        if isinstance(value, torch.Tensor):
            flat = value.detach().to("cpu").contiguous().reshape(-1)
            digest.update(f"{where}|{flat.dtype}|{tuple(value.shape)}|".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
        elif isinstance(value, Mapping):
            for key in sorted(value, key=str):
                if not (where == "" and key == DIGEST_KEY):
                    walk(value[key], f"{where}/{key}")
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(state, "")
    return digest.hexdigest()


def _write(path: Path, state: dict[str, Any]) -> Path:
    state = {**state, DIGEST_KEY: tensor_digest(state)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as f:
            torch.save(state, f)
    except OSError as exc:
        raise DigitreaderError(f"{path}: cannot write checkpoint ({_write_failure(path, exc)})") from None
    except RuntimeError as exc:  # torch's writer reports a failed write as "[enforce fail at ...]"
        raise DigitreaderError(f"{path}: cannot write checkpoint ({_write_failure(path, exc)})") from None
    return path


def _write_failure(path: Path, exc: BaseException) -> str:
    """Why a write failed, in words, and that what was there before is still there."""
    kept = "the earlier file is intact" if path.exists() else "nothing was written"
    strerror = getattr(exc, "strerror", None)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if free is not None and free < 64 << 20:
        return f"the disk is full: {free // (1 << 20)} MiB free; {kept}"
    return f"{strerror or 'the write failed: disk full, or a file size limit?'}; {kept}"


def _gist(exc: BaseException, limit: int = 160) -> str:
    """The gist of an exception on one line (torch's weights-only refusals are paragraphs)."""
    message = str(exc).strip()
    marker = "WeightsUnpickler error:"
    if marker in message:
        message = "refused by weights-only loading: " + message.split(marker, 1)[1].strip().split(". ")[0]
    text = message.splitlines()[0].split(". ")[0] if message else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint safely (weights only, on CPU); an unusable file raises a one-line ModelError."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # torch warns about pickle protocols of files it then refuses anyway
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (
        Exception
    ) as exc:  # torch raises many types for bad bytes (RuntimeError, UnpicklingError, EOFError...)
        raise ModelError(f"{path}: not a readable torch checkpoint ({_gist(exc)})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelError(f"{path}: not a digitreader checkpoint (expected format {FORMAT!r})")
    missing = [key for key in _REQUIRED if key not in state]
    if missing:
        raise ModelError(f"{path}: checkpoint is missing {', '.join(missing)}")
    saved = state.get(DIGEST_KEY)  # checkpoints written before the checksum existed have none
    if saved is not None and saved != tensor_digest(state):
        raise ModelError(
            f"{path}: damaged checkpoint (its tensors do not match the checksum saved with them)"
        )
    return Checkpoint(
        path=path,
        model_name=str(state["model_name"]),
        config=dict(state["config"]),
        preprocessing=dict(state["preprocessing"]),
        recipe=dict(state["recipe"]),
        epoch=int(state["epoch"]),
        step=int(state["step"]),
        metrics=dict(state["metrics"]),
        state=state,
    )


def load_newest_intact(
    paths: Sequence[str | os.PathLike[str]], warn: Callable[[str], None] | None = None
) -> Checkpoint:
    """The newest of `paths` (oldest first, as `train.checkpoints_in` lists them) that loads and matches
    its checksum; each damaged one passed over is reported through `warn` (default: a logged warning).
    Raises the newest one's `ModelError` when none is intact."""
    say = warn or log.warning
    errors: list[ModelError] = []
    for path in reversed(list(paths)):
        try:
            ckpt = load_checkpoint(path)
        except ModelError as exc:
            errors.append(exc)
            say(f"{exc}; trying the one before it")
            continue
        if errors:
            say(f"resuming from {ckpt.path}, the newest intact checkpoint")
        return ckpt
    if errors:
        raise errors[0]
    raise ModelError("no checkpoint to load")


def build_model_from_checkpoint(ckpt: Checkpoint, *, ema: bool = True) -> nn.Module:
    """The checkpoint's model with its weights loaded, in eval mode (EMA weights when present and `ema`)."""
    try:
        model = get_spec(ckpt.model_name).build(ckpt.config)
    except ModelError as exc:
        raise ModelError(f"{ckpt.path}: {exc}") from None
    weights = ckpt.state.get("ema_state") if ema else None
    if weights is None:
        weights = ckpt.state["model_state"]
    try:
        model.load_state_dict(weights, strict=True)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise ModelError(
            f"{ckpt.path}: weights do not match model {ckpt.model_name!r} ({_gist(exc, 120)})"
        ) from None
    return model.eval()


def update_metrics(path: str | os.PathLike[str], updates: Mapping[str, Any]) -> Checkpoint:
    """Add `updates` to a checkpoint's metrics, rewriting the file atomically; returns it reloaded."""
    ckpt = load_checkpoint(path)
    state = dict(ckpt.state)
    state["metrics"] = {**ckpt.metrics, **updates}
    _write(ckpt.path, state)
    return load_checkpoint(ckpt.path)
