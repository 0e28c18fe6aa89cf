"""The one exception type a user sees as a clear one-line message (the CLI exits with code 2)."""


class DigitreaderError(Exception):
    """A problem with the user's input: a file, a value, a model. The message names it and says why."""


class DataError(DigitreaderError):
    """A dataset file is missing, corrupt or does not match its checksum."""


class ImageError(DigitreaderError):
    """An image cannot be read: not found, not an image, truncated, too large, too small."""


class ModelError(DigitreaderError):
    """A model or checkpoint file cannot be used: unreadable, wrong format, another model's."""


class ImageTooLargeError(ImageError):
    """An image has more pixels than the limit (checked before decoding: decompression bombs)."""


class NotAnImageError(ImageError):
    """The data is not an image at all (empty, or no format Pillow reads): the server's 415."""


class ReadTimeoutError(ImageError):
    """Reading one picture used more CPU time than its budget (a hostile or pathological picture)."""


class ReadCancelledError(DigitreaderError):
    """A read was stopped because nobody waits for it any more (the server's client has gone)."""
