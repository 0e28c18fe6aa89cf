"""Fine-tuning the digit classifier on a user's single digits (class folders, or one-digit labels).

1. each picture is read and framed as reading frames one digit (`vision.preprocess.prepare_single_digit`);
2. a part is held out, stratified by digit (`tuning.split`), and read before: the whole reader in digit
   mode with the starting classifier; MNIST's test digits are scored too, to show what replay keeps;
3. the classifier is rebuilt in torch from its ONNX file (`training.from_onnx`, int8 weights dequantised)
   and trained with each step half the user's digits, half MNIST training digits (replay), both distorted
   as the recipe of the bundled `cnn` distorts them; BatchNorm frozen; the best round on the held-out
   digits is kept (early stopping);
4. exported (float ONNX, checked against torch) and read after, the same way.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from digitreader import budget
from digitreader.data.user_files import Skipped
from digitreader.errors import DataError, DigitreaderError
from digitreader.files import sha256_file
from digitreader.models.recipe import Augmentation
from digitreader.names import printable
from digitreader.tuning.loop import warm_cosine
from digitreader.tuning.result import FinetuneResult, held_out_warnings, refusal, write_card
from digitreader.tuning.score import read_texts, score, table
from digitreader.tuning.source import Labelled, read_bytes
from digitreader.tuning.split import split_held_out
from digitreader.vision.load import load_image
from digitreader.vision.preprocess import prepare_single_digit

log = logging.getLogger(__name__)

# The bundled cnn's training distortions (models/cnn.py): user digits and replayed MNIST digits alike.
AUGMENT = Augmentation(rotate_deg=12, scale=0.12, shear_deg=12, shift_px=2.0, thickness=0.4)
MIN_PICTURES = 10  # fewer usable pictures than this: nothing to learn from and nothing to measure on


@dataclass(frozen=True)
class DigitRecipe:
    """How the classifier is fine-tuned (recorded in the new model's card)."""

    lr: float = 3e-4  # AdamW peak learning rate
    weight_decay: float = 0.01
    batch_user: int = 32  # user digits per step
    batch_replay: int = 96  # MNIST training digits per step (replay)
    round_steps: int = 50  # steps between held-out checks
    max_rounds: int = 10
    patience: int = 3  # rounds without more held-out digits right before stopping
    warmup_steps: int = 20
    label_smoothing: float = 0.1
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DIGITS_DRY_RUN = DigitRecipe(batch_user=4, batch_replay=4, round_steps=2, max_rounds=1, warmup_steps=1)


@dataclass(frozen=True)
class DigitPicture:
    item: Labelled
    gray: np.ndarray  # the picture (uint8 2-D), read whole by the reader in digit mode
    image: np.ndarray  # (28, 28) uint8, MNIST framing


def read_digit_pictures(items: Iterable[Labelled]) -> Iterator[tuple[Labelled, DigitPicture | None, str]]:
    """Each item with its framed digit (None when unusable) and the reason ("" when usable)."""
    for item in items:
        try:
            with budget.read_budget(budget.resolve_read_seconds(None), item.name):
                gray = load_image(read_bytes(item), name=item.name)
                image = prepare_single_digit(gray)
        except DigitreaderError as exc:
            yield item, None, str(exc).removeprefix(f"{item.name}: ")
            continue
        except Exception as exc:  # one odd file must not end a long run; it is listed with its reason
            yield item, None, f"cannot decode ({type(exc).__name__}: {exc})"
            continue
        if image is None:
            yield item, None, "no digit found (blank picture)"
        else:
            yield item, DigitPicture(item, gray, image), ""


@dataclass(frozen=True)
class DigitRound:
    step: int
    right: int
    seconds: float


def tune_classifier(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    replay: tuple[np.ndarray, np.ndarray],
    held: tuple[np.ndarray, np.ndarray],
    recipe: DigitRecipe,
    *,
    deadline: float | None = None,
    progress: bool = True,
) -> tuple[list[DigitRound], DigitRound | None, str]:
    """Fine-tune `model` in place (left with the best round's weights); the rounds, the best round, and
    why it stopped."""
    from digitreader.training.augment import augment_batch
    from digitreader.training.from_onnx import freeze_batchnorm

    started = time.monotonic()
    generator = torch.Generator().manual_seed(recipe.seed)
    rng = np.random.default_rng([recipe.seed, 17])
    total = recipe.round_steps * recipe.max_rounds
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warm_cosine(recipe.warmup_steps, total))
    user_x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    user_y = torch.from_numpy(labels.astype(np.int64))
    replay_x, replay_y = replay
    held_x = torch.from_numpy(held[0]).float().div_(255).unsqueeze(1)
    rounds: list[DigitRound] = []
    best: DigitRound | None = None
    best_state = copy.deepcopy(model.state_dict())
    stopped = "all rounds run"
    order: list[int] = []
    bar = tqdm(total=total, desc="fine-tuning", disable=not progress, file=sys.stderr, leave=False)
    model.train()
    freeze_batchnorm(model)
    for step in range(1, total + 1):
        if not order:
            order = list(rng.permutation(len(user_y)))
        picked = [order.pop() for _ in range(min(recipe.batch_user, len(order)))]
        r = rng.integers(0, len(replay_y), recipe.batch_replay)
        x = torch.cat([user_x[picked], torch.from_numpy(replay_x[r]).float().div_(255).unsqueeze(1)])
        y = torch.cat([user_y[picked], torch.from_numpy(replay_y[r].astype(np.int64))])
        logits = model(augment_batch(x, AUGMENT, generator))
        # Each half weighs the same, however many digits it holds.
        n = len(picked)
        loss_user = F.cross_entropy(logits[:n], y[:n], label_smoothing=recipe.label_smoothing)
        loss_replay = F.cross_entropy(logits[n:], y[n:], label_smoothing=recipe.label_smoothing)
        loss = (loss_user + loss_replay) / 2
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.update(1)
        late = deadline is not None and time.monotonic() > deadline
        if step % recipe.round_steps and not late:
            continue
        model.eval()
        with torch.inference_mode():
            right = int((model(held_x).argmax(1).numpy() == held[1]).sum())
        model.train()
        freeze_batchnorm(model)
        rounds.append(DigitRound(step, right, time.monotonic() - started))
        if best is None or right > best.right:
            best, best_state = rounds[-1], copy.deepcopy(model.state_dict())
        bar.write(f"step {step}: held-out digits right {right}/{len(held[1])}", file=sys.stderr)
        if late:
            stopped = "the time limit (--max-minutes)"
            break
        if len(rounds) - rounds.index(best) > recipe.patience:
            stopped = f"no better held-out score in {recipe.patience} rounds"
            break
    bar.close()
    model.load_state_dict(best_state)
    return rounds, best, stopped


def mnist_accuracy(
    classify: Callable[[np.ndarray], np.ndarray], images: np.ndarray, labels: np.ndarray
) -> float:
    """Accuracy of `classify` (uint8 (N, 28, 28) -> probabilities) on MNIST digits."""
    return float((classify(images).argmax(1) == labels).mean())


def finetune_digits(
    src: Any,
    items: list[Labelled],
    skipped: list[Skipped],
    out_path: Path,
    base: str | os.PathLike[str] | None,
    *,
    force: bool,
    deadline: float | None,
    started: float,
    data_dir: str | os.PathLike[str] | None,
    recipe: DigitRecipe | None,
    dry_run: bool,
    progress: bool,
    say: Callable[[str], None],
) -> FinetuneResult:
    """The classifier's fine-tuning, as `tuning.finetune.finetune` describes it for single digits."""
    from digitreader.data.mnist import load_mnist
    from digitreader.onnx_engine import DEFAULT_MODEL, OnnxEngine
    from digitreader.recognizer import Recognizer
    from digitreader.training.export import export_model
    from digitreader.training.from_onnx import classifier_from_onnx

    base_path = Path(base or DEFAULT_MODEL).expanduser()
    start_engine = OnnxEngine.load(base, threads=1)
    model, metadata = classifier_from_onnx(base_path)
    unlisted = len(skipped)
    pictures: list[DigitPicture] = []
    for item, picture, reason in read_digit_pictures(
        tqdm(items, desc="reading pictures", disable=not progress, leave=False)
    ):
        if picture is None:
            skipped.append(Skipped(item.name, reason))
        else:
            pictures.append(picture)
    if len(pictures) < MIN_PICTURES:
        raise DataError(f"{src}: {len(pictures)} usable pictures; fine-tuning needs {MIN_PICTURES} or more")
    train_idx, held_idx = split_held_out([p.item.text for p in pictures], stratum=str)
    training, held = [pictures[i] for i in train_idx], [pictures[i] for i in held_idx]
    counts = {"listed": len(items) + unlisted, "skipped": len(skipped), "usable": len(pictures),
              "training": len(training), "held_out": len(held)}  # fmt: skip
    say(
        f"{len(pictures)} usable single digits ({len(skipped)} skipped): {len(held)} held out for the "
        f"before/after figures (stratified by digit; the larger of 20% and 50, at most half), "
        f"{len(training)} to train on"
    )
    warnings = held_out_warnings(len(held))
    truths = [p.item.text for p in held]
    before_reader = Recognizer(start_engine, None, read_seconds=0)
    before_texts = read_texts(before_reader, [p.gray for p in held], mode="digit")
    before = score(before_texts, truths, by="class")
    mnist = load_mnist(data_dir)
    test_x, test_y = mnist.split("test")
    record: dict[str, Any] = {"mnist_test_before": mnist_accuracy(start_engine.classify, test_x, test_y)}
    say(f"before: held-out {before.exact_rate:.1%} right; MNIST test {record['mnist_test_before']:.2%}")

    recipe = DIGITS_DRY_RUN if dry_run else (recipe or DigitRecipe())
    held_images = np.stack([p.image for p in held])
    rounds, best, stopped = tune_classifier(
        model,
        np.stack([p.image for p in training]),
        np.array([int(p.item.text) for p in training]),
        mnist.split("train"),
        (held_images, np.array([int(t) for t in truths])),
        recipe,
        deadline=deadline,
        progress=progress,
    )
    record.update({
        "base": {"file": base_path.name, "sha256": sha256_file(base_path)},
        "pictures": counts,
        "recipe": {**recipe.to_dict(), "replay": "MNIST training digits", "augment": asdict(AUGMENT)},
        "before": before.to_dict(),
        "rounds": [{"step": r.step, "held_out_right": r.right} for r in rounds],
        "best_step": best.step if best else 0,
        "stopped": stopped,
    })  # fmt: skip
    meta: dict[str, Any] = {
        k: metadata[k] for k in ("format", "model", "config", "preprocessing", "labels") if k in metadata
    }
    meta.update(
        {"kind": "classifier", "recipe": record["recipe"], "source": {"finetuned_from": record["base"]}}
    )
    # Written beside `out` under a hidden name and measured; `out` itself is written (atomically, with the
    # record) only when it is not refused, so Ctrl-C or a refusal leaves no model file behind.
    trial = out_path.with_name(f".{out_path.name}.trial")
    try:
        check = np.concatenate([held_images, test_x[:500]])
        export_model(
            model.eval(),
            trial,
            {**meta, "finetune": record},
            images=check,
            check_data="held-out and MNIST test digits",
        )
        after_engine = OnnxEngine.load(trial, threads=1)
        after_texts = read_texts(
            Recognizer(after_engine, None, read_seconds=0), [p.gray for p in held], mode="digit"
        )
        after = score(after_texts, truths, by="class")
        record["after"] = after.to_dict()
        record["mnist_test_after"] = mnist_accuracy(after_engine.classify, test_x, test_y)
        refused = refusal(before, after, out_path, base_path.name, force)
        if not refused:
            final = export_model(model.eval(), out_path, {**meta, "finetune": record}, images=check,
                                 check_data="held-out and MNIST test digits")  # fmt: skip
            write_card(out_path, out_path.read_bytes(), "classifier", str(metadata.get("model")), record)
            log.info("wrote %s (%s)", out_path, final.sha256)
    finally:
        trial.unlink(missing_ok=True)
    say(f"MNIST test: {record['mnist_test_before']:.2%} before, {record['mnist_test_after']:.2%} after")
    return FinetuneResult(
        out=out_path,
        written=not refused,
        base=base_path,
        kind="classifier",
        before=before,
        after=after,
        table=table(before, after),
        counts=counts,
        skipped=tuple(skipped),
        held_out=tuple(
            (printable(p.item.name), t, b, a)
            for p, t, b, a in zip(held, truths, before_texts, after_texts, strict=True)
        ),
        stopped=stopped,
        steps=rounds[-1].step if rounds else 0,
        seconds=time.monotonic() - started,
        warnings=tuple(warnings),
        refused=refused,
        extra={k: record[k] for k in ("mnist_test_before", "mnist_test_after")},
    )
