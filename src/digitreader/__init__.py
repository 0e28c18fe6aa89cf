"""digitreader: read handwritten digits in photos, scans and drawings.

Usage: ``Recognizer.load().read("examples/cheque_4096.jpg", mode="number").text`` gives ``"4096"``; each of
the reading's ``digits`` has a ``label``, a ``confidence`` and a ``box`` (x, y, w, h) in the image's pixels.
``finetune("my-numbers", out="mine.onnx")`` tunes the sequence reader on a folder of labelled pictures and
returns the before/after figures on a held-out part (needs the ``train`` extra).
"""

from digitreader.errors import DigitreaderError
from digitreader.reading import Digit, Reading

__all__ = ["Digit", "DigitreaderError", "Reading", "Recognizer", "finetune"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Imported on first use so `import digitreader` stays light for the data and training verbs.
    if name == "Recognizer":
        from digitreader.recognizer import Recognizer

        return Recognizer
    if name == "finetune":  # needs the train extra (torch)
        from digitreader.tuning.finetune import finetune

        return finetune
    raise AttributeError(f"module 'digitreader' has no attribute {name!r}")
