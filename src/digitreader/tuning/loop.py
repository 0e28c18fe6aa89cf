"""The fine-tuning loop of the sequence reader: the user's strips mixed with generated lines, early stopping.

Each step trains on `batch_user` of the user's strips (a shuffled pass after another, each strip stretched
a little at random) and `batch_replay` generated lines of MNIST training digits (`data.strings`, the lines
the reader was trained on, made in a worker process): the replay keeps it from forgetting what it read
before. BatchNorm statistics stay frozen: the start's are folded into its convolutions
(`training.from_onnx`), and a few hundred pictures would move them anyway. Every `round_steps` steps the
model reads the held-out pictures through the whole reader (`evaluate`); the best round is kept, and
training stops after `patience` rounds without a better one, after `max_rounds`, or at the deadline.
"""

from __future__ import annotations

import copy
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from tqdm import tqdm

from digitreader.data.strings import DigitBank
from digitreader.models.crnn import Crnn
from digitreader.sequence_engine import SequenceEngine
from digitreader.training.from_onnx import freeze_batchnorm
from digitreader.training.sequence import GeneratedBatches, ctc_loss, pad_strips
from digitreader.tuning.score import Scores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TuneRecipe:
    """How the sequence reader is fine-tuned (recorded in the new model's card)."""

    lr: float = 3e-4  # AdamW peak learning rate (the reader was trained at 2e-3)
    weight_decay: float = 0.01
    batch_user: int = 32  # user strips per step
    batch_replay: int = 32  # generated lines per step (replay)
    round_steps: int = 100  # steps between held-out checks
    max_rounds: int = 12
    patience: int = 3  # rounds without a better held-out score before stopping
    warmup_steps: int = 30  # linear warm-up, then cosine down to a tenth
    stretch: float = 0.15  # user strips are stretched in width by a factor within 1 +- this
    seed: int = 0
    replay_in_worker: bool = True  # make the generated lines in a worker process (the other core)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Round:
    step: int
    scores: Scores
    train_loss: float
    seconds: float


@dataclass(frozen=True)
class TuneResult:
    """The best round's weights, every round's figures, and why training stopped."""

    state: dict[str, torch.Tensor]
    best: Round | None
    rounds: list[Round]
    stopped: str
    seconds: float


class TorchSequence(SequenceEngine):
    """A torch `crnn` behind the sequence engine's interface, so the whole reader can score it while it
    trains (each strip read alone, padded as `SequenceEngine.read` pads it)."""

    def __init__(self, model: Crnn, metadata: dict[str, Any]) -> None:
        super().__init__(None, Path("<training>"), metadata)
        self.model = model

    def read(self, strip: np.ndarray) -> np.ndarray:
        m = self.width_multiple
        width = -(-max(strip.shape[1], m) // m) * m
        x = torch.zeros((1, 1, strip.shape[0], width))
        x[0, 0, :, : strip.shape[1]] = torch.from_numpy(strip).float() / 255.0
        with torch.inference_mode():
            return self.model(x).softmax(-1)[0].numpy()


def tune_sequence(
    model: Crnn,
    strips: Sequence[np.ndarray],
    texts: Sequence[str],
    bank: DigitBank,
    evaluate: Callable[[Crnn], Scores],
    recipe: TuneRecipe,
    *,
    deadline: float | None = None,
    progress: bool = True,
    say: Callable[[str], None] = log.info,
) -> TuneResult:
    """Fine-tune `model` in place on `strips`/`texts` with replay; returns the best round's weights.

    `evaluate` scores a model on the held-out pictures; `deadline` is a `time.monotonic()` time."""
    started = time.monotonic()
    rng = np.random.default_rng([recipe.seed, 16])
    total = recipe.round_steps * recipe.max_rounds
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warm_cosine(recipe.warmup_steps, total))
    replay = torch.utils.data.DataLoader(
        GeneratedBatches(bank, recipe.seed, recipe.batch_replay, 0, total),
        batch_size=None,
        num_workers=1 if recipe.replay_in_worker else 0,
    )
    order: list[int] = []
    rounds: list[Round] = []
    best: Round | None = None
    best_state = copy.deepcopy(model.state_dict())
    stopped, step, loss_sum, seen = "all rounds run", 0, 0.0, 0
    bar = tqdm(total=total, desc="fine-tuning", disable=not progress, file=sys.stderr, leave=False)
    _train_mode(model)
    for x_replay, w_replay, t_replay in replay:
        if not order:
            order = list(rng.permutation(len(strips)))
        picked = [order.pop() for _ in range(min(recipe.batch_user, len(order)))]
        x_user, w_user = pad_strips([_stretch(strips[i], rng, recipe.stretch) for i in picked])
        loss = ctc_loss(model(x_user), w_user, [texts[i] for i in picked], model)
        loss = (loss + ctc_loss(model(x_replay), w_replay, t_replay, model)) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        schedule.step()
        step, loss_sum, seen = step + 1, loss_sum + loss.item(), seen + 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}", refresh=False)
        late = deadline is not None and time.monotonic() > deadline
        if step % recipe.round_steps and not late:
            continue
        scores = evaluate(model.eval())
        _train_mode(model)
        rounds.append(Round(step, scores, loss_sum / seen, time.monotonic() - started))
        loss_sum, seen = 0.0, 0
        better = best is None or (scores.exact, scores.digits) > (best.scores.exact, best.scores.digits)
        if better:
            best, best_state = rounds[-1], copy.deepcopy(model.state_dict())
        bar.write(
            f"step {step}: held-out exact {scores.exact_rate:.1%}, digits only {scores.digits_rate:.1%}"
            f"{' (best so far)' if better else ''}",
            file=sys.stderr,
        )
        if late:
            stopped = "the time limit (--max-minutes)"
            break
        if best is not None and len(rounds) - rounds.index(best) > recipe.patience:
            stopped = f"no better held-out score in {recipe.patience} rounds"
            break
    bar.close()
    model.load_state_dict(best_state)
    return TuneResult(best_state, best, rounds, stopped, time.monotonic() - started)


def _train_mode(model: Crnn) -> None:
    model.train()
    freeze_batchnorm(model)


def _stretch(strip: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """The strip stretched or squeezed in width by a random factor within 1 +- `amount`."""
    if amount <= 0:
        return strip
    width = max(4, int(round(strip.shape[1] * rng.uniform(1 - amount, 1 + amount))))
    return cv2.resize(strip, (width, strip.shape[0]), interpolation=cv2.INTER_LINEAR)


def warm_cosine(warmup_steps: int, total: int) -> Callable[[int], float]:
    """Learning-rate factor of step i: a linear warm-up over `warmup_steps`, then a cosine down to a tenth
    at `total` (both fine-tuning loops, numbers and single digits, use it)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        done = (step - warmup_steps) / max(1, total - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))

    return factor
