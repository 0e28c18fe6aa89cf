"""digitreader: read handwritten digits in photos, scans and drawings.

Usage: ``Recognizer.load().read("examples/cheque_4096.jpg", mode="number").text`` gives ``"4096"``; each of
the reading's ``digits`` has a ``label``, a ``confidence`` and a ``box`` (x, y, w, h) in the image's pixels.
"""

from digitreader.errors import DigitreaderError
from digitreader.reading import Digit, Reading

__all__ = ["Digit", "DigitreaderError", "Reading", "Recognizer"]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Imported on first use so `import digitreader` stays light for the data and training verbs.
    if name == "Recognizer":
        from digitreader.recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module 'digitreader' has no attribute {name!r}")
