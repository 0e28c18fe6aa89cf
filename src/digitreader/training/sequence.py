"""Training the sequence reader (`crnn`): written numbers generated on the fly from MNIST training digits
(`data.strings`), CTC loss, the recipe's optimiser and schedule, a weight average, a progress bar,
TensorBoard, atomic checkpoints and an exact `--resume`.

    >>> result = train(TrainConfig(model="crnn", out=Path("runs/crnn")))   # via training.train

A run is `steps` optimiser steps, scored every `ROUND` steps (a "round" plays the part of an epoch): on
`VALIDATION_LINES` lines drawn from MNIST's *validation* digits, never seen in training; `best.pt` is the
round with the most lines read exactly. Files in `out` are those of a classifier run (`checkpoint-eNNN.pt`
per round, `last.pt`, `best.pt`, `metrics.jsonl`, `tb/`).

Exact resume: training line `i` is a function of (seed, i) alone, and dropout's generator is saved, so a
run stopped and resumed sees the same batches and ends with the same weights as one straight through.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from digitreader.ctc import edit_distance, encode, greedy_decode, text_of
from digitreader.data.mnist import load_mnist
from digitreader.data.strings import DigitBank, make_line, make_strip
from digitreader.errors import DigitreaderError
from digitreader.models.crnn import FEATURE_STRIDE, Crnn
from digitreader.models.recipe import Recipe, recipe_from_dict
from digitreader.models.registry import get_spec
from digitreader.training import checkpoint as ckpt_io
from digitreader.training import distributed
from digitreader.training.config import TrainConfig, TrainResult, check_recipe
from digitreader.training.from_onnx import freeze_batchnorm, sequence_model_from_onnx
from digitreader.training.optim import Ema, lr_factor, make_optimizer
from digitreader.training.run_folder import (
    append_metrics,
    prepare_out,
    restore_state,
    resume_command,
    resumed_checkpoint,
    save_round,
    save_state,
)
from digitreader.training.tensorboard import TensorBoard

log = logging.getLogger(__name__)

ROUND = 1000  # optimiser steps between validations and checkpoints
VALIDATION_LINES = 1000
VALIDATION_SEED = (
    1  # validation line i comes from default_rng([VALIDATION_SEED, -1, i]); training from [seed, i]
)
DRY_RUN_STEPS = 3
DRY_RUN_LINES = 32
LOG_EVERY = 25
POOL = 8  # batches of lines made together and batched by width


# ------------------------------------------------------------------------------------------------ batches


def pad_strips(strips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Strips (32, W_i) uint8 -> a float batch [N, 1, 32, W] in [0, 1] (zero padding on the right, width a
    multiple of the feature stride), and the widths."""
    widths = torch.tensor([s.shape[1] for s in strips])
    width = int(-(-int(widths.max()) // FEATURE_STRIDE) * FEATURE_STRIDE)
    batch = np.zeros((len(strips), 1, strips[0].shape[0], width), np.uint8)
    for i, s in enumerate(strips):
        batch[i, 0, :, : s.shape[1]] = s
    return torch.from_numpy(batch).float().div_(255.0), widths


def training_lines(bank: DigitBank, seed: int, first: int, count: int) -> Iterator[tuple[np.ndarray, str]]:
    """Strips and texts of training lines `first` .. `first + count - 1` of `seed`."""
    for i in range(first, first + count):
        rng = np.random.default_rng([seed, i])
        line = make_line(bank, rng)
        yield make_strip(line, rng), line.text


class _Batches(torch.utils.data.IterableDataset):
    """The batches of steps `first` .. `last - 1`, made in a worker process while the model trains.

    Lines are made `POOL` batches at a time and batched with others of similar width (sorted, then the
    batches shuffled): padding every line to the widest of a random batch cost about half of each step.
    """

    def __init__(self, bank: DigitBank, seed: int, batch: int, first: int, last: int) -> None:
        self.bank, self.seed, self.batch, self.first, self.last = bank, seed, batch, first, last

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, list[str]]]:
        for pool in range(self.first // POOL, -(-self.last // POOL)):
            size = POOL * self.batch
            pairs = list(training_lines(self.bank, self.seed, pool * size, size))
            by_width = sorted(range(size), key=lambda i: pairs[i][0].shape[1])
            order = np.random.default_rng([self.seed, 2**32 - 2, pool]).permutation(POOL)
            for k, chunk in enumerate(order):
                step = pool * POOL + k
                if self.first <= step < self.last:
                    members = [pairs[i] for i in by_width[chunk * self.batch : (chunk + 1) * self.batch]]
                    x, widths = pad_strips([s for s, _ in members])
                    yield x, widths, [t for _, t in members]


GeneratedBatches = _Batches  # public name: fine-tuning replays generated lines (`tuning.loop`)


def validation_lines(bank: DigitBank, n: int) -> list[tuple[np.ndarray, str]]:
    """The fixed validation lines (from MNIST validation digits)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng([VALIDATION_SEED, 2**32 - 1, i])
        line = make_line(bank, rng)
        out.append((make_strip(line, rng), line.text))
    return out


@torch.no_grad()
def read_strips(model: Crnn, strips: list[np.ndarray], batch: int = 128) -> list[str]:
    """Greedy readings of strips with a torch model (eval mode), batched by similar width."""
    model.eval()
    order = sorted(range(len(strips)), key=lambda i: strips[i].shape[1])
    out: list[str] = [""] * len(strips)
    for k in range(0, len(order), batch):
        idx = order[k : k + batch]
        x, widths = pad_strips([strips[i] for i in idx])
        probs = model(x).softmax(-1).numpy()
        for j, i in enumerate(idx):
            out[i] = text_of(greedy_decode(probs[j, : model.columns(int(widths[j]))]))
    return out


def exact_and_cer(readings: list[str], truths: list[str]) -> tuple[float, float]:
    """Fraction read exactly, and the character error rate (edit distance / characters of the truth)."""
    exact = sum(r == t for r, t in zip(readings, truths, strict=True)) / max(1, len(truths))
    edits = sum(edit_distance(r, t) for r, t in zip(readings, truths, strict=True))
    return exact, edits / max(1, sum(len(t) for t in truths))


def ctc_loss(logits: torch.Tensor, widths: torch.Tensor, texts: list[str], model: Crnn) -> torch.Tensor:
    """Mean CTC loss of a batch (each line's columns stop where its strip ends, not at the padding)."""
    log_probs = logits.log_softmax(-1).transpose(0, 1)  # [T, N, C]
    lengths = torch.tensor([min(model.columns(int(w)), logits.shape[1]) for w in widths])
    targets = [torch.tensor(encode(t)) for t in texts]
    return F.ctc_loss(
        log_probs,
        torch.cat(targets),
        lengths,
        torch.tensor([len(t) for t in targets]),
        blank=0,
        reduction="mean",
        zero_infinity=True,
    )


# --------------------------------------------------------------------------------------------------- run


class _Interrupted(Exception):
    pass


def train_sequence(cfg: TrainConfig, recipe: Recipe | None, say: Callable[[str], None]) -> TrainResult:
    """Run (or resume) a sequence-reader training as `cfg` says (called by `training.train.train`)."""
    if cfg.data is not None or cfg.with_mnist:
        raise DigitreaderError(f"{cfg.model} trains on generated lines of digits; --data is for classifiers")
    if cfg.device not in ("auto", "cpu"):
        raise DigitreaderError(f"--device {cfg.device}: the sequence reader trains on the CPU (--device cpu)")
    if distributed.in_worker():
        raise DigitreaderError("the sequence reader trains in one process (drop --nproc)")
    start = _init_checkpoint(cfg)  # read and checked before --out is touched: a typo leaves nothing behind
    out = Path(cfg.out)
    resume_from = prepare_out(out, cfg.resume)
    resumed = resumed_checkpoint(out, cfg.model, say) if resume_from is not None else None
    if resumed is not None:
        recipe = recipe_from_dict(resumed.recipe)
        check_recipe(recipe)
    assert recipe is not None
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    mnist = load_mnist(cfg.data_dir)
    run = _SequenceRun(cfg, recipe, mnist, out, resumed, start, say)
    try:
        run.loop()
    except _Interrupted:
        return TrainResult(out, None, out / "last.pt", run.metrics(), interrupted=True)
    best = out / "best.pt"
    return TrainResult(out, best, out / "last.pt", ckpt_io.load_checkpoint(best).metrics)


def _init_checkpoint(cfg: TrainConfig) -> ckpt_io.Checkpoint | None:
    """The checkpoint `--init` names (None without it), checked to be of the model being trained."""
    if cfg.init is None:
        return None
    if Path(cfg.init).suffix.lower() == ".onnx":
        start = _exported_reader(Path(cfg.init))
    else:
        start = ckpt_io.load_checkpoint(cfg.init)
    if start.model_name != cfg.model:
        raise DigitreaderError(f"--init {cfg.init}: a checkpoint of {start.model_name!r}, not {cfg.model!r}")
    if cfg.model_config:
        raise DigitreaderError("--init keeps the checkpoint's architecture; drop the model settings")
    return start


def _exported_reader(path: Path) -> ckpt_io.Checkpoint:
    """An exported sequence reader (e.g. the bundled one) as a checkpoint to start from: its float
    weights rebuilt from the ONNX graph (`training.from_onnx`), its architecture from its metadata."""
    model, metadata = sequence_model_from_onnx(path)
    return ckpt_io.Checkpoint(
        path=path,
        model_name=str(metadata.get("model")),
        config=dict(metadata.get("config") or {}),
        preprocessing=dict(metadata.get("preprocessing") or {}),
        recipe={},
        epoch=0,
        step=0,
        metrics={},
        # Its BatchNorms are folded into the convolutions: runs from it keep them frozen (`_SequenceRun`).
        state={"model_state": model.state_dict(), "run": {"frozen_norms": True}},
    )


class _SequenceRun:
    def __init__(
        self,
        cfg: TrainConfig,
        recipe: Recipe,
        mnist: Any,
        out: Path,
        resumed: ckpt_io.Checkpoint | None,
        start: ckpt_io.Checkpoint | None,
        say: Callable[[str], None],
    ) -> None:
        self.cfg, self.recipe, self.out, self.say = cfg, recipe, out, say
        state = resumed.state if resumed is not None else {}
        self.seed = int((state.get("run") or {}).get("seed", cfg.seed))
        torch.manual_seed(self.seed)
        config = resumed.config if resumed is not None else start.config if start else dict(cfg.model_config)
        model = get_spec(cfg.model).build(config)
        assert isinstance(model, Crnn)
        self.model = model
        self.init = str(cfg.init) if start is not None else (state.get("run") or {}).get("init")
        # Weights rebuilt from an exported reader carry their BatchNorms folded into the convolutions:
        # batch statistics would undo the folding, so those BatchNorms stay in eval mode for good (and
        # in every run that goes on from this one: the flag is saved with each checkpoint).
        origin = start.state if start is not None else state
        self.frozen_norms = bool((origin.get("run") or {}).get("frozen_norms"))
        if start is not None:  # fine-tuning: the weights (their average, where saved) of another run
            self.model.load_state_dict(start.state.get("ema_state") or start.state["model_state"])
            say(f"starting from the weights of {start.path} (step {start.step})")
        self.bank = DigitBank(*mnist.split("train"))
        n_val = DRY_RUN_LINES if cfg.dry_run else VALIDATION_LINES
        self.validation = validation_lines(DigitBank(*mnist.split("validation")), n_val)
        self.total = DRY_RUN_STEPS if cfg.dry_run else int(recipe.steps or (recipe.epochs or 1) * ROUND)
        self.round = min(ROUND, self.total)
        self.optimizer = make_optimizer(self.model, recipe)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(recipe, self.total))
        self.ema = Ema(self.model, recipe.ema) if recipe.ema else None
        self.step, self.elapsed, self.cpu = 0, 0.0, 0.0
        self.history: list[dict[str, Any]] = []
        self.best, self.best_round = -1.0, 0
        self.stop_requested = False
        if resumed is not None:
            restore_state(resumed, self.model, self.optimizer, self.scheduler, self.ema)
            self.step = resumed.step
            self.history = list(resumed.metrics.get("history", []))
            self.best = float(resumed.metrics.get("best_val_exact", -1.0))
            self.best_round = int(resumed.metrics.get("best_epoch", 0))
            self.elapsed = float(resumed.metrics.get("train_seconds", 0.0))
            self.cpu = float(resumed.metrics.get("train_cpu_seconds", 0.0))
            say(f"resuming {resumed.path} at step {self.step}")

    def _train_mode(self) -> None:
        self.model.train()
        if self.frozen_norms:
            freeze_batchnorm(self.model)

    def metrics(self) -> dict[str, Any]:
        latest = self.history[-1] if self.history else {}
        return {
            **{k: v for k, v in latest.items() if k.startswith("val_") or k.startswith("train_")},
            "best_val_exact": self.best,
            "best_epoch": self.best_round,
            "train_seconds": round(self.elapsed, 1),
            "train_cpu_seconds": round(self.cpu, 1),
            "history": self.history,
        }

    def save(self, path: Path) -> Path:
        return save_state(
            path,
            name=self.cfg.model,
            model=self.model,
            recipe=self.recipe,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            ema=self.ema,
            epoch=self.step // self.round,
            step=self.step,
            metrics=self.metrics(),
            extra={"run": {"seed": self.seed, "data": "data.strings (MNIST training digits)",
                           "threads": torch.get_num_threads(), "init": self.init,
                           "frozen_norms": self.frozen_norms}},
        )  # fmt: skip

    def loop(self) -> None:
        tb = TensorBoard(self.out / "tb", enabled=self.cfg.tensorboard)
        params = sum(p.numel() for p in self.model.parameters())
        self.say(
            f"training {self.cfg.model} ({params:,} parameters) on generated lines of MNIST training digits: "
            f"{self.total} steps of {self.recipe.batch_size}, validated every {self.round} on "
            f"{len(self.validation)} lines"
        )
        previous = self._catch_sigint()
        try:
            while self.step < self.total:
                self._round(tb)
        finally:
            tb.close()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def _catch_sigint(self) -> Any:
        def handler(signum: int, frame: Any) -> None:
            if self.stop_requested:
                raise KeyboardInterrupt
            self.stop_requested = True

        try:
            return signal.signal(signal.SIGINT, handler)
        except ValueError:
            return None

    def _round(self, tb: TensorBoard) -> None:
        last = min(self.total, (self.step // self.round + 1) * self.round)
        batches = _Batches(self.bank, self.seed, self.recipe.batch_size, self.step, last)
        workers = 0 if self.cfg.dry_run else 1
        loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=workers)
        bar = tqdm(
            total=last - self.step,
            desc=f"steps {self.step + 1}-{last} of {self.total}",
            disable=not self.cfg.progress,
            file=sys.stderr,
            leave=False,
        )
        self._train_mode()
        started, cpu_started = time.perf_counter(), time.process_time()
        loss_sum, seen = 0.0, 0
        for x, widths, texts in loader:
            if self.stop_requested:
                bar.close()
                self._account(started, cpu_started)
                path = self.save(self.out / "last.pt")
                self.say(
                    f"interrupted at step {self.step}; saved {path}. "
                    f"Resume with: {resume_command(self.cfg, self.cfg.model)}"
                )
                raise _Interrupted
            logits = self.model(x)
            loss = ctc_loss(logits, widths, texts, self.model)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            if self.ema is not None:
                self.ema.update(self.model, self.step)
            loss_sum, seen = loss_sum + loss.item(), seen + 1
            bar.update(1)
            if self.step % LOG_EVERY == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", refresh=False)
                tb.scalars(
                    self.step, {"train/loss": loss_sum / seen, "lr": self.optimizer.param_groups[0]["lr"]}
                )
        bar.close()
        self._account(started, cpu_started)
        self._validate(tb, loss_sum / max(1, seen))

    def _account(self, started: float, cpu_started: float) -> None:
        self.elapsed += time.perf_counter() - started
        self.cpu += time.process_time() - cpu_started

    def _validate(self, tb: TensorBoard, train_loss: float) -> None:
        scored = self.ema.module if self.ema is not None else self.model
        assert isinstance(scored, Crnn)
        readings = read_strips(scored, [s for s, _ in self.validation])
        exact, cer = exact_and_cer(readings, [t for _, t in self.validation])
        index = self.step // self.round if self.step % self.round == 0 else self.step // self.round + 1
        row = {
            "epoch": index,
            "step": self.step,
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "val_exact": exact,
            "val_cer": cer,
            "seconds": round(self.elapsed, 1),
            "cpu_seconds": round(self.cpu, 1),
        }
        self.history.append(row)
        append_metrics(self.out, row)
        tb.scalars(self.step, {"val/exact": exact, "val/cer": cer})
        improved = exact > self.best
        if improved:
            self.best, self.best_round = exact, index
        save_round(self.out, index, improved, self.save)
        self.say(
            f"step {self.step}/{self.total}: loss {train_loss:.3f}, validation exact {exact:.4f} "
            f"(best {self.best:.4f} @ round {self.best_round}), CER {cer:.4f}, {self.elapsed:.0f}s"
        )
        self._train_mode()
