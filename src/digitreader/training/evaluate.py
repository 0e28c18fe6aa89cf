"""Evaluate a checkpoint: accuracy, per-class precision and recall, a confusion-matrix PNG and a gallery
of the misclassified digits (true and predicted labels).

    >>> report = evaluate("runs/cnn/best.pt", split="test", out="runs/cnn/eval-test")
    >>> report.accuracy, report.confusion_png, report.errors_png
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from digitreader.files import atomic_file
from digitreader.onnx_engine import WEIGHTS_DIR
from digitreader.training.splits import Part, as_input

log = logging.getLogger(__name__)

EVAL_BATCH = 1000  # images per forward pass when evaluating
MAX_GALLERY = 256  # misclassified digits drawn in the error gallery


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
    """Logits [N, 10] of `model` (put in eval mode) for uint8 images [N, 28, 28]."""
    model.eval()
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")  # the model may live on a GPU
    batches = (as_input(images[i : i + batch_size]).to(device) for i in range(0, len(images), batch_size))
    chunks = [model(batch).cpu() for batch in batches]
    return torch.cat(chunks) if chunks else torch.zeros(0, 10)


def accuracy_and_loss(model: nn.Module, part: Part) -> tuple[float, float]:
    """Top-1 accuracy and mean cross-entropy of `model` on `part`."""
    if len(part) == 0:
        return float("nan"), float("nan")
    logits = predict_logits(model, part.images)
    accuracy = (logits.argmax(1) == part.labels).float().mean().item()
    return accuracy, F.cross_entropy(logits, part.labels).item()


@dataclass(frozen=True)
class ClassStats:
    digit: int
    precision: float
    recall: float
    support: int  # true examples of this digit


@dataclass(frozen=True)
class EvaluationReport:
    """What `evaluate` measured and the files it wrote."""

    checkpoint: Path
    model_name: str
    data: str
    count: int
    accuracy: float
    errors: int
    per_class: tuple[ClassStats, ...]
    confusion: np.ndarray  # [true, predicted] counts, 10x10
    confusion_png: Path | None
    errors_png: Path | None


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int = 10) -> np.ndarray:
    """Counts [true, predicted]."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def per_class_stats(matrix: np.ndarray) -> tuple[ClassStats, ...]:
    """Precision and recall of each class from a confusion matrix (NaN where undefined)."""
    stats = []
    for d in range(len(matrix)):
        hits, predicted, actual = matrix[d, d], matrix[:, d].sum(), matrix[d].sum()
        stats.append(
            ClassStats(
                digit=d,
                precision=float(hits / predicted) if predicted else float("nan"),
                recall=float(hits / actual) if actual else float("nan"),
                support=int(actual),
            )
        )
    return tuple(stats)


def save_confusion_png(matrix: np.ndarray, path: Path, title: str) -> Path:
    """The confusion matrix as a PNG heat map with counts (matplotlib, Agg backend, written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=100)
    # Log-ish colour so the few errors stay visible next to the big diagonal.
    ax.imshow(np.log1p(matrix), cmap="Blues")
    classes = len(matrix)
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    threshold = np.log1p(matrix).max() / 2
    for t in range(classes):
        for p in range(classes):
            if matrix[t, p]:
                colour = "white" if np.log1p(matrix[t, p]) > threshold else "black"
                ax.text(p, t, str(matrix[t, p]), ha="center", va="center", fontsize=7, color=colour)
    fig.tight_layout()
    try:
        with atomic_file(path, suffix=".png") as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
    return path


def _default_out(path: Path, split: str) -> Path:
    """`eval-<split>` beside the evaluated file, or in the working folder for a bundled model: the
    package's own folder is no place for a user's pictures (and is often read-only)."""
    if path.resolve().parent == WEIGHTS_DIR:
        return Path.cwd() / f"eval-{path.stem}-{split}"
    return path.parent / f"eval-{split}"


def evaluate(
    checkpoint: str | os.PathLike[str],
    split: str = "test",
    data: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
) -> EvaluationReport:
    """Score `checkpoint` (a `.pt` from `digits train`, or an exported `.onnx`) on one split of MNIST (or of
    the user dataset `data`) and write the PNGs into `out` (default: ``eval-<split>`` beside the file).
    Returns the numbers and the paths written."""
    from digitreader.data.grid import save_grid
    from digitreader.errors import DigitreaderError
    from digitreader.models.registry import get_spec
    from digitreader.training.checkpoint import build_model_from_checkpoint, load_checkpoint
    from digitreader.training.splits import load_split

    path = Path(checkpoint)
    part, description = load_split(split, data, data_dir)
    if len(part) == 0:
        raise DigitreaderError(f"{description}: no images to evaluate")
    if path.suffix.lower() == ".onnx":
        # An exported model (an ensemble, the bundled one) through ONNX Runtime, exactly as reading uses it.
        from digitreader.onnx_engine import OnnxEngine

        engine = OnnxEngine.load(path)
        model_name = str(engine.metadata.get("model", "onnx"))
        predictions = engine.classify(part.images.numpy()).argmax(1)
    else:
        ckpt = load_checkpoint(path)
        if get_spec(ckpt.model_name).kind == "sequence":
            raise DigitreaderError(
                f"{path}: a sequence reader reads lines, not MNIST digits: its training scored it on "
                "generated lines (metrics.jsonl); on real numbers, python -m benchmarks.read_real --sequence "
                "EXPORTED.onnx"
            )
        path, model_name = ckpt.path, ckpt.model_name
        predictions = predict_logits(build_model_from_checkpoint(ckpt), part.images).argmax(1).numpy()
    labels = part.labels.numpy()
    matrix = confusion_matrix(labels, predictions)
    wrong = np.flatnonzero(predictions != labels)
    accuracy = float((predictions == labels).mean())
    log.info("%s on %s: accuracy %.4f (%d errors)", path, description, accuracy, len(wrong))

    out_dir = Path(out) if out is not None else _default_out(path, split)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DigitreaderError(f"{out_dir}: cannot create output folder ({exc.strerror or exc})") from None
    title = f"{model_name} on {description}: {accuracy:.2%} ({len(wrong)} errors of {len(labels)})"
    confusion_png = save_confusion_png(matrix, out_dir / "confusion.png", title)
    errors_png = None
    if len(wrong):
        shown = wrong[:MAX_GALLERY]
        errors_png = save_grid(
            part.images[shown].numpy(),
            labels[shown],
            out_dir / "errors.png",
            predictions=predictions[shown],
            title=f"{len(wrong)} misclassified (first {len(shown)}): true as predicted",
        )
    return EvaluationReport(
        checkpoint=path,
        model_name=model_name,
        data=description,
        count=len(labels),
        accuracy=accuracy,
        errors=len(wrong),
        per_class=per_class_stats(matrix),
        confusion=matrix,
        confusion_png=confusion_png,
        errors_png=errors_png,
    )
