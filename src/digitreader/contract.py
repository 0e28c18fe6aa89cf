"""The contract between reading, the models and their files, in one torch-free place.

What every side must agree on, written once: the read modes; the names inside an exported ONNX file (its
metadata key and format, input and output names); MNIST framing of a digit (28 px image, ink box 20 px,
centre of mass at the centre, ink bright, [0, 1]) and the MNIST mean/std the models apply inside; the
sequence reader's strip height; and the preprocessing version that a checkpoint and an ONNX file record.
The models, the export, the engines and the pipeline import these; the engines check a model file's
``preprocessing`` metadata against them (`check_preprocessing`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from digitreader.errors import DigitreaderError, ModelError

# ---- read modes ------------------------------------------------------------------------------------------
Mode = Literal["auto", "digit", "number"]
MODES: tuple[str, ...] = ("auto", "digit", "number")


def check_mode(mode: str) -> str:
    """`mode` if it is one of `MODES`; a one-line `DigitreaderError` otherwise (Python and HTTP alike)."""
    if mode not in MODES:
        shown = mode[:40] if isinstance(mode, str) else mode  # a form field may be long
        raise DigitreaderError(f"mode {shown!r}: choose one of {', '.join(MODES)}")
    return mode


# ---- the exported ONNX file --------------------------------------------------------------------------------
METADATA_KEY = "digitreader"  # the metadata_props entry holding our JSON
FORMAT = "digitreader-onnx/1"  # its "format"; files of any digitreader-onnx/ version are opened
FORMAT_PREFIX = "digitreader-onnx/"
INPUT_NAME = "image"  # a classifier's input: float32 [N, 1, 28, 28] in [0, 1]
STRIP_INPUT_NAME = "strip"  # the sequence reader's input: float32 [N, 1, 32, W] in [0, 1]
OUTPUT_NAME = "probabilities"  # softmax: [N, 10] (classifier) or [N, T, classes] (sequence reader)
NUM_CLASSES = 10  # a classifier's classes: the digits 0..9

# ---- framing -----------------------------------------------------------------------------------------------
IMAGE_SIZE = 28  # side of a digit image
INK_BOX = 20  # a digit's ink box is scaled so that its longer side is this many pixels (MNIST)
STRIP_HEIGHT = 32  # height of a line strip, in pixels: what the sequence reader takes
MNIST_MEAN = 0.1307  # MNIST training-set pixel mean (of images in [0, 1]), applied inside a model
MNIST_STD = 0.3081  # MNIST training-set pixel std

# What a model expects, recorded in checkpoints and ONNX metadata as ``preprocessing.version``. A change to
# the framing or to the strips makes a new version, and files of another version are refused.
PREPROCESSING_VERSION = 1
# The same version as a packed dataset folder records it (`data.folder`: its images were framed so).
DATASET_PREPROCESSING = f"mnist-v{PREPROCESSING_VERSION}"

# The framing entries of a classifier's ``preprocessing`` (mean and std are the model's own).
CLASSIFIER_FRAMING: dict[str, Any] = {
    "size": IMAGE_SIZE,
    "box": INK_BOX,
    "centre": "mass",
    "ink": "bright",
    "range": [0.0, 1.0],
}
# ...and of a sequence reader's (its stride, width multiple and alphabet are checked by its engine).
STRIP_FRAMING: dict[str, Any] = {"strip_height": STRIP_HEIGHT, "ink": "bright", "range": [0.0, 1.0]}


def classifier_preprocessing(mean: float, std: float) -> dict[str, Any]:
    """The ``preprocessing`` entry of a classifier that normalises with `mean` and `std` inside."""
    return {**CLASSIFIER_FRAMING, "mean": float(mean), "std": float(std), "version": PREPROCESSING_VERSION}


def check_preprocessing(metadata: dict[str, Any], path: Path, kind: str = "classifier") -> None:
    """A one-line `ModelError` unless the ``preprocessing`` a model file records is the one reading does.

    `kind` is "classifier" or "sequence". A file without the entry (made by hand) is read as it is; one
    that names another version, or framing entries other than ours, is refused.
    """
    prep = metadata.get("preprocessing")
    if prep is None:
        return
    if not isinstance(prep, dict):
        raise ModelError(f"{path}: its metadata 'preprocessing' is not a JSON object")
    version = prep.get("version", PREPROCESSING_VERSION)
    if version != PREPROCESSING_VERSION:
        raise ModelError(
            f"{path}: made for preprocessing version {version!r}, this digitreader prepares version "
            f"{PREPROCESSING_VERSION}: export it again with this version"
        )
    framing = STRIP_FRAMING if kind == "sequence" else CLASSIFIER_FRAMING
    for key, ours in framing.items():
        if key in prep and prep[key] != ours:
            raise ModelError(f"{path}: expects preprocessing {key} {prep[key]!r}, reading gives {ours!r}")
