"""digitreader: read handwritten digits in photos, scans and drawings.

    >>> from digitreader import Recognizer
    >>> reading = Recognizer.load().read("examples/cheque.png", mode="number")
    >>> reading.text, reading.digits[0].label, reading.digits[0].box
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
