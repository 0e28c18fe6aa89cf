"""A training run's folder: checked before use, its checkpoints listed, written each round and pruned, its
``metrics.jsonl``, and the run's state saved to and restored from a checkpoint.

The classifier's loop (`train`) and the sequence reader's (`sequence`) keep their folders alike:
``checkpoint-eNNN.pt`` per epoch or round (the newest `KEEP_CHECKPOINTS` kept), ``last.pt``, ``best.pt``,
``metrics.jsonl`` and ``tb/``; both save and restore the same state (`save_state`, `restore_state`).
"""

from __future__ import annotations

import json
import shlex
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from digitreader.errors import DigitreaderError
from digitreader.models.base import DigitModel
from digitreader.models.recipe import Recipe, recipe_to_dict
from digitreader.training import checkpoint as ckpt_io
from digitreader.training.config import TrainConfig
from digitreader.training.distributed import world_from_env
from digitreader.training.optim import Ema

KEEP_CHECKPOINTS = 3  # per-epoch checkpoints kept (the newest), beside best.pt and last.pt


def checkpoints_in(out: Path) -> list[Path]:
    """The checkpoints a run left in `out`, oldest first (last.pt, the newest, at the end)."""
    found = sorted(out.glob("checkpoint-e*.pt"))
    if (out / "last.pt").is_file():
        found.append(out / "last.pt")
    return found


def prune_checkpoints(out: Path, keep: int = KEEP_CHECKPOINTS) -> None:
    """Delete all but the newest `keep` per-epoch checkpoints in `out` (best.pt and last.pt stay): a long
    run of a big model kept every epoch (hundreds of MB), while resuming needs only the newest intact one."""
    for old in sorted(out.glob("checkpoint-e*.pt"))[:-keep]:
        old.unlink(missing_ok=True)


@contextmanager
def left_clean(out: Path) -> Iterator[None]:
    """A run in `out` that fails before writing anything (MNIST not found, a bad dataset, Ctrl-C while the
    data loads) leaves no empty `out` behind, nor the folders above it made for it."""
    made = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    try:
        yield
    except BaseException:
        for folder in made:
            try:
                folder.rmdir()  # only while empty
            except OSError:
                break
        raise


def prepare_out(out: Path, resume: bool) -> Path | None:
    """Create `out`, check it can be written, and return the checkpoint to resume from (if `resume`)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise DigitreaderError(f"{out}: cannot write there ({exc.strerror or exc})") from None
    found = checkpoints_in(out)
    if resume and not found:
        raise DigitreaderError(f"{out}: no checkpoint to resume from (train without --resume first)")
    if not resume and found:
        raise DigitreaderError(
            f"{out}: already holds checkpoints (add --resume to continue, or pick another --out)"
        )
    return found[-1] if resume else None


def resumed_checkpoint(out: Path, name: str, say: Callable[[str], None]) -> ckpt_io.Checkpoint:
    """The newest intact checkpoint in `out` (a damaged last.pt -- a crash mid-copy, a flipped bit -- falls
    back to the one before it), checked to be of model `name`."""
    resumed = ckpt_io.load_newest_intact(checkpoints_in(out), say)
    if resumed.model_name != name:
        raise DigitreaderError(
            f"{resumed.path}: a checkpoint of model {resumed.model_name!r}, not {name!r} (pick another --out)"
        )
    return resumed


def resume_command(cfg: TrainConfig, name: str) -> str:
    """The `digits train` line that continues a run of `cfg` (same data, threads and processes)."""
    parts = ["digits", "train", "--model", name, "--out", str(cfg.out), "--resume"]
    _, world, _ = world_from_env()
    if world > 1:  # a worker of `--nproc N`: the run goes on in as many processes
        parts += ["--nproc", str(world)]
    if cfg.data is not None:
        parts += ["--data", str(cfg.data)] + (["--with-mnist"] if cfg.with_mnist else [])
    if cfg.data_dir is not None:
        parts += ["--data-dir", str(cfg.data_dir)]
    if cfg.threads is not None:
        parts += ["--threads", str(cfg.threads)]
    return shlex.join(parts)


def save_state(
    path: Path,
    *,
    name: str,
    model: DigitModel,
    recipe: Recipe,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema: Ema | None,
    epoch: int,
    step: int,
    metrics: Mapping[str, Any],
    extra: Mapping[str, Any],
    generator: torch.Generator | None = None,
) -> Path:
    """A run's whole state as a checkpoint (`checkpoint.save_checkpoint`, atomic): what resuming needs."""
    return ckpt_io.save_checkpoint(
        path,
        model_name=name,
        model=model,
        recipe=recipe_to_dict(recipe),
        epoch=epoch,
        step=step,
        metrics=metrics,
        optimizer=optimizer,
        scheduler=scheduler,
        ema_state=ema.module.state_dict() if ema is not None else None,
        generator=generator,
        extra=extra,
    )


def restore_state(
    ckpt: ckpt_io.Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    ema: Ema | None,
) -> None:
    """Load what `save_state` saved into a run's model, optimiser, schedule, EMA and torch's generator."""
    state = ckpt.state
    model.load_state_dict(state["model_state"])
    optimizer.load_state_dict(state["optimizer_state"])
    scheduler.load_state_dict(state["scheduler_state"])
    if ema is not None and state.get("ema_state") is not None:
        ema.module.load_state_dict(state["ema_state"])
    torch.set_rng_state(state["rng"]["torch"])


def save_round(out: Path, index: int, improved: bool, save: Callable[[Path], Path]) -> None:
    """The checkpoints written after an epoch (or round) `index`: its own, last.pt, best.pt when it
    `improved`; older per-epoch ones pruned."""
    save(out / f"checkpoint-e{index:03d}.pt")
    save(out / "last.pt")
    if improved:
        save(out / "best.pt")
    prune_checkpoints(out)


def append_metrics(out: Path, row: Mapping[str, Any]) -> None:
    """One JSON line in the run's ``metrics.jsonl``."""
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
