"""The training loop: whole dataset in memory as tensors, seeded shuffling and augmentation, a progress bar,
TensorBoard, atomic checkpoints every epoch and on Ctrl-C, and an exact `--resume`.

    >>> result = train(TrainConfig(model="cnn", out=Path("runs/cnn")))
    >>> result.best, result.metrics["test_accuracy"]

Files in `out`: ``checkpoint-eNNN.pt`` after each epoch (the newest `run_folder.KEEP_CHECKPOINTS` kept),
``last.pt`` (newest, also written on Ctrl-C), ``best.pt`` (best validation accuracy; the only one scored
on the test split, once, at the end), ``metrics.jsonl`` (one JSON object per epoch, then one for the
test) and ``tb/`` (TensorBoard).

Exact resume: every random number (shuffling, augmentation) comes from one `torch.Generator` seeded by
`seed`; dropout uses torch's global generator. Both states, the optimiser, the schedule, the EMA and (after
Ctrl-C) the position inside the epoch are saved, so an interrupted and resumed run ends with the same
weights, bit for bit, as a run straight through (on the same machine and thread count).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from digitreader.errors import DigitreaderError
from digitreader.models.base import DigitModel
from digitreader.models.recipe import Recipe, recipe_from_dict
from digitreader.models.registry import get_spec
from digitreader.training import checkpoint as ckpt_io
from digitreader.training import distributed
from digitreader.training.augment import augment_batch
from digitreader.training.config import TrainConfig, TrainResult, check_recipe, resolve_recipe
from digitreader.training.evaluate import accuracy_and_loss
from digitreader.training.optim import Ema, lr_factor, make_optimizer
from digitreader.training.run_folder import (
    append_metrics,
    left_clean,
    prepare_out,
    restore_state,
    resume_command,
    resumed_checkpoint,
    save_round,
    save_state,
)
from digitreader.training.sequence import train_sequence
from digitreader.training.splits import Splits, as_input, load_splits
from digitreader.training.tensorboard import TensorBoard

log = logging.getLogger(__name__)

DRY_RUN_BATCHES = 3  # training batches in a --dry-run
DRY_RUN_EVAL = 256  # validation / test images in a --dry-run
LOG_EVERY = 25  # steps between progress-bar and TensorBoard updates


class _Interrupted(Exception):
    """Internal: Ctrl-C arrived; the state has been saved."""


def train(cfg: TrainConfig, report: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume) training as `cfg` says. `report` receives one human-readable line per epoch."""
    say = report or log.info
    spec = get_spec(cfg.model)
    # Check every setting before touching --out, so a typo leaves nothing behind.
    if cfg.threads is not None and cfg.threads < 1:
        raise DigitreaderError(f"--threads must be >= 1 (got {cfg.threads})")
    if cfg.resume and any(v is not None for v in (cfg.epochs, cfg.steps, cfg.batch_size, cfg.lr, cfg.init)):
        raise DigitreaderError(
            "--resume continues the saved run; drop --epochs/--steps/--batch-size/--lr/--init"
        )
    recipe = None if cfg.resume else resolve_recipe(spec.recipe, cfg)
    if cfg.init is not None and spec.kind != "sequence":
        raise DigitreaderError("--init starts the sequence reader from a checkpoint; classifiers train anew")
    out = Path(cfg.out)
    with left_clean(out):
        if spec.kind == "sequence":
            return train_sequence(cfg, recipe, say)
        info = distributed.setup(cfg.device)  # joins the process group under torchrun
        try:
            return _train(cfg, spec.name, recipe, out, info, say)
        finally:
            distributed.teardown(info)


def _train(
    cfg: TrainConfig,
    name: str,
    recipe: Recipe | None,
    out: Path,
    info: distributed.DistInfo,
    say: Callable[[str], None],
) -> TrainResult:
    resume_from = prepare_out(out, cfg.resume)
    distributed.barrier(info)  # every rank has checked --out before rank 0 writes to it
    resumed = resumed_checkpoint(out, name, say) if resume_from is not None else None
    if resumed is not None:
        recipe = recipe_from_dict(resumed.recipe)
        check_recipe(recipe)
        seed = int((resumed.state.get("run") or {}).get("seed", cfg.seed))
        model_config = resumed.config
    else:
        seed, model_config = cfg.seed, dict(cfg.model_config)
    assert recipe is not None
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)

    splits = load_splits(cfg.data, cfg.with_mnist, cfg.data_dir)
    if len(splits.train) == 0:
        raise DigitreaderError(f"{splits.description}: no training images")
    if cfg.dry_run:
        splits = Splits(
            train=splits.train,
            validation=splits.validation.head(DRY_RUN_EVAL),
            test=splits.test.head(DRY_RUN_EVAL),
            description=splits.description + " (dry run)",
            extra_tests={k: v.head(DRY_RUN_EVAL) for k, v in splits.extra_tests.items()},
        )
    if resumed is not None and (resumed.state.get("run") or {}).get("data") not in (None, splits.description):
        log.warning("resuming on %s; the run started on %s", splits.description, resumed.state["run"]["data"])
    return _Run(cfg, name, recipe, seed, model_config, splits, out, resumed, say, info).run()


class _Run:
    """The state of one training run; `run()` is the loop."""

    def __init__(
        self,
        cfg: TrainConfig,
        name: str,
        recipe: Recipe,
        seed: int,
        model_config: dict[str, Any],
        splits: Splits,
        out: Path,
        resumed: ckpt_io.Checkpoint | None,
        say: Callable[[str], None],
        info: distributed.DistInfo,
    ) -> None:
        self.cfg, self.name, self.recipe, self.seed, self.splits, self.out, self.say = (
            cfg, name, recipe, seed, splits, out, say,
        )  # fmt: skip
        self.dist = info
        if not info.is_main:  # rank 0 speaks for the run
            self.say = lambda line: None
        torch.manual_seed(seed)
        self.model: DigitModel = get_spec(name).build(model_config)
        # What training steps call: the model itself, or DDP around it (same parameters) when distributed.
        self.net = distributed.wrap(self.model, info)
        self.generator = torch.Generator().manual_seed(seed)
        n = len(splits.train)
        self.batch = min(recipe.batch_size, n)
        distributed.check_batch(self.batch, info)
        self.steps_per_epoch = max(1, n // self.batch)
        if cfg.dry_run:
            self.steps_per_epoch = min(self.steps_per_epoch, DRY_RUN_BATCHES)
            self.total_steps = self.steps_per_epoch
        else:
            self.total_steps = recipe.steps or (recipe.epochs or 1) * self.steps_per_epoch
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.optimizer = make_optimizer(self.model, recipe)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_factor(recipe, self.total_steps)
        )
        self.ema = Ema(self.model, recipe.ema) if recipe.ema else None
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.history: list[dict[str, Any]] = []
        self.best_acc, self.best_epoch = -1.0, 0
        self.position: dict[str, Any] | None = None  # where inside an epoch Ctrl-C stopped
        self.stop_requested = False
        if resumed is not None:
            self._restore(resumed)

    def _restore(self, ckpt: ckpt_io.Checkpoint) -> None:
        state = ckpt.state
        restore_state(ckpt, self.model, self.optimizer, self.scheduler, self.ema)
        self.generator.set_state(state["rng"]["generator"])
        self.epoch, self.step = ckpt.epoch, ckpt.step
        self.history = list(ckpt.metrics.get("history", []))
        self.best_acc = float(ckpt.metrics.get("best_val_accuracy", -1.0))
        self.best_epoch = int(ckpt.metrics.get("best_epoch", 0))
        self.elapsed = float(ckpt.metrics.get("train_seconds", 0.0))
        self.position = state.get("position")
        self.say(f"resuming {ckpt.path} at epoch {self.epoch + 1}, step {self.step}")

    # ---- saving -------------------------------------------------------------------------------------------
    def _metrics(self) -> dict[str, Any]:
        latest = self.history[-1] if self.history else {}
        return {
            **{k: v for k, v in latest.items() if k.startswith("val_") or k.startswith("train_")},
            "best_val_accuracy": self.best_acc,
            "best_epoch": self.best_epoch,
            "train_seconds": round(self.elapsed, 1),
            "history": self.history,
        }

    def _save(self, path: Path, position: dict[str, Any] | None = None) -> Path:
        return save_state(
            path,
            name=self.name,
            model=self.model,
            recipe=self.recipe,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            ema=self.ema,
            epoch=self.epoch,
            step=self.step,
            metrics=self._metrics(),
            generator=self.generator,
            extra={
                "position": position,
                "run": {
                    "seed": self.seed,
                    "data": self.splits.description,
                    "threads": torch.get_num_threads(),
                    "world_size": self.dist.world_size,
                    "device": str(self.dist.device),
                },
            },
        )

    def _log_row(self, row: dict[str, Any]) -> None:
        append_metrics(self.out, row)

    # ---- the loop -----------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        tb = TensorBoard(self.out / "tb", enabled=self.cfg.tensorboard and self.dist.is_main)
        if self.step == 0:
            tb.graph(self.model, as_input(self.splits.train.images[:2]).to(self.dist.device))
        self.say(
            f"training {self.name} ({sum(p.numel() for p in self.model.parameters()):,} parameters) on "
            f"{self.splits.description}: {self.total_steps} steps of {self.batch} in {self.epochs} epoch(s)"
        )
        previous = self._catch_sigint()
        try:
            while self.step < self.total_steps:
                self._epoch(tb)
        except _Interrupted:
            return TrainResult(self.out, None, self.out / "last.pt", self._metrics(), interrupted=True)
        finally:
            tb.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        return self._finish()

    def _catch_sigint(self) -> Any:
        """First Ctrl-C: finish the step, save, stop. A second one stops at once (KeyboardInterrupt)."""

        def handler(signum: int, frame: Any) -> None:
            if self.stop_requested and not self.dist.enabled:  # ranks stop together, at a step's end
                raise KeyboardInterrupt
            self.stop_requested = True

        try:
            return signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread: Ctrl-C is not ours to catch
            return None

    def _epoch(self, tb: TensorBoard) -> None:
        train, recipe = self.splits.train, self.recipe
        if self.position is not None:  # resuming inside an epoch
            perm, first = self.position["perm"], int(self.position["batch"])
            # The saved running totals are every rank's together: rank 0 carries them on, the others restart.
            sums = dict(self.position["sums"]) if self.dist.is_main else {}
            self.position = None
        else:
            perm, first, sums = torch.randperm(len(train), generator=self.generator), 0, {}
        sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0, "seconds": 0.0, "cpu_seconds": 0.0, **sums}
        last_batch = min(self.steps_per_epoch, first + self.total_steps - self.step)
        self.model.train()
        started, cpu_started = time.perf_counter(), time.process_time()
        bar = tqdm(
            range(first, last_batch),
            desc=f"epoch {self.epoch + 1}/{self.epochs}",
            total=last_batch,
            initial=first,
            disable=not self.cfg.progress or not self.dist.is_main,
            file=sys.stderr,
            leave=False,
        )
        x = y = logits = torch.zeros(0)
        for i in bar:
            # Ctrl-C: stop between two steps (all ranks at the same one), so the saved state is consistent
            if distributed.any_rank(self.stop_requested, self.dist):
                bar.close()
                sums["cpu_seconds"] += time.process_time() - cpu_started
                self._interrupt({"epoch": self.epoch, "batch": i, "perm": perm, "sums": sums}, started)
            idx = distributed.shard(perm[i * self.batch : (i + 1) * self.batch], self.dist)
            y = train.labels[idx]
            x = augment_batch(as_input(train.images[idx]), recipe.augment, self._augment_generator(), y)
            x, y = x.to(self.dist.device), y.to(self.dist.device)
            logits = self.net(x)
            loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            if self.ema is not None:
                self.ema.update(self.model, self.step)
            sums["loss"] += loss.item() * len(y)
            sums["correct"] += (logits.argmax(1) == y).sum().item()
            sums["seen"] += len(y)
            if self.step % LOG_EVERY == 0 or i == last_batch - 1:
                loss_avg, acc = sums["loss"] / sums["seen"], sums["correct"] / sums["seen"]
                bar.set_postfix(loss=f"{loss_avg:.4f}", acc=f"{acc:.4f}", refresh=False)
                lr = self.optimizer.param_groups[0]["lr"]
                tb.scalars(self.step, {"train/loss": loss_avg, "train/accuracy": acc, "lr": lr})
        bar.close()
        seconds = sums["seconds"] + time.perf_counter() - started
        sums["cpu_seconds"] += time.process_time() - cpu_started
        self.elapsed += time.perf_counter() - started
        self.epoch += 1
        self._end_epoch(tb, sums, seconds, x, y, logits)

    def _augment_generator(self) -> torch.Generator:
        """The run's generator; per (seed, step, rank) when distributed, so ranks distort differently."""
        if not self.dist.enabled:
            return self.generator
        return distributed.augmentation_generator(self.seed, self.step, self.dist)

    def _interrupt(self, position: dict[str, Any], started: float) -> None:
        spent = time.perf_counter() - started
        position["sums"] = {**position["sums"], "seconds": position["sums"]["seconds"] + spent}
        if self.dist.enabled:
            totals = {k: position["sums"][k] for k in ("loss", "correct", "seen")}
            position["sums"].update(distributed.sum_across(totals, self.dist))
        self.elapsed += spent
        if not self.dist.is_main:
            distributed.barrier(self.dist)
            raise _Interrupted
        path = self._save(self.out / "last.pt", position=position)
        distributed.barrier(self.dist)
        self.say(
            f"interrupted at epoch {self.epoch + 1}, step {self.step}; saved {path}. "
            f"Resume with: {self._resume_command()}"
        )
        raise _Interrupted

    def _resume_command(self) -> str:
        return resume_command(self.cfg, self.name)

    def _end_epoch(
        self,
        tb: TensorBoard,
        sums: dict[str, float],
        seconds: float,
        x: torch.Tensor,
        y: torch.Tensor,
        logits: torch.Tensor,
    ) -> None:
        if self.dist.enabled:  # every rank's shard counts in the epoch's loss and accuracy
            sums = {
                **sums,
                **distributed.sum_across({k: sums[k] for k in ("loss", "correct", "seen")}, self.dist),
            }
            gap = distributed.max_weight_difference(self.model, self.dist)
            if not self.dist.is_main:  # rank 0 evaluates and saves; the others wait
                distributed.barrier(self.dist)
                self.model.train()
                return
        scored = self.ema.module if self.ema is not None else self.model
        val_acc, val_loss = accuracy_and_loss(scored, self.splits.validation)
        seen = max(1.0, sums["seen"])
        row = {
            "epoch": self.epoch,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": sums["loss"] / seen,
            "train_accuracy": sums["correct"] / seen,
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "seconds": round(seconds, 1),
            # CPU time of this process: on a busy, shared machine a steadier cost measure than wall time.
            "cpu_seconds": round(sums["cpu_seconds"], 1),
        }
        if self.dist.enabled:  # 0.0 when the ranks hold the same weights, as DDP promises
            row.update(world_size=self.dist.world_size, rank_weight_gap=gap)
        self.history.append(row)
        self._log_row(row)
        tb.scalars(self.step, {"val/loss": val_loss, "val/accuracy": val_acc})
        if len(x):
            tb.digits("train/inputs", self.step, x[:32].cpu(), y[:32].cpu(), logits[:32].argmax(1).cpu())
        improved = val_acc > self.best_acc
        if improved:
            self.best_acc, self.best_epoch = val_acc, self.epoch
        save_round(self.out, self.epoch, improved, self._save)
        distributed.barrier(self.dist)
        self.say(
            f"epoch {self.epoch}/{self.epochs}: loss {row['train_loss']:.4f}, "
            f"train acc {row['train_accuracy']:.4f}, "
            f"val acc {val_acc:.4f} (best {self.best_acc:.4f} @ {self.best_epoch}), {seconds:.0f}s"
        )
        self.model.train()

    def _finish(self) -> TrainResult:
        """Score best.pt once on the test split (and any extra test sets); record it in the checkpoints."""
        if not self.dist.is_main:
            return TrainResult(self.out, None, None, {})
        best = self.out / "best.pt"
        model = ckpt_io.build_model_from_checkpoint(ckpt_io.load_checkpoint(best))
        updates: dict[str, Any] = {}
        test_acc, test_loss = accuracy_and_loss(model, self.splits.test)
        updates.update(test_accuracy=test_acc, test_loss=test_loss, test_data=self.splits.description)
        for name, part in self.splits.extra_tests.items():
            updates[f"{name}_accuracy"] = accuracy_and_loss(model, part)[0]
        metrics = ckpt_io.update_metrics(best, updates).metrics
        if self.best_epoch == self.epoch:
            ckpt_io.update_metrics(self.out / "last.pt", updates)
        self._log_row({"event": "test", "checkpoint": str(best), "epoch": self.best_epoch, **updates})
        self.say(
            f"test accuracy of {best} (epoch {self.best_epoch}): {test_acc:.4f} "
            f"on {len(self.splits.test)} images"
        )
        return TrainResult(self.out, best, self.out / "last.pt", metrics)
