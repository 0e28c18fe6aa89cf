"""The sequence reader's alphabet and the decoding of its per-column probabilities (CTC), torch-free.

The reader emits, for each column of a line strip (every `STRIDE` pixels), probabilities over a blank
(index 0) and the characters of `ALPHABET` (index 1 + position). A reading is the best path with repeats
merged and blanks removed (greedy decoding; a prefix beam search was measured no better, see
`benchmarks.read_real`). Each character keeps the columns it was emitted on, so the caller can give it a
box, and the probability of its best column as its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DIGITS = "0123456789"
SEPARATORS = ".,- "  # what people write inside numbers: decimal and thousands marks, dashes, group gaps
ALPHABET = DIGITS + SEPARATORS
BLANK = 0
NUM_CLASSES = len(ALPHABET) + 1  # the blank first


def encode(text: str) -> list[int]:
    """Class indices of `text` (every character must be in `ALPHABET`; ValueError otherwise)."""
    try:
        return [ALPHABET.index(ch) + 1 for ch in text]
    except ValueError:
        bad = sorted({ch for ch in text if ch not in ALPHABET})
        raise ValueError(f"text {text!r}: characters {bad} are not in the alphabet {ALPHABET!r}") from None


@dataclass(frozen=True)
class Emitted:
    """One character read: the columns [first, last] it was emitted on, its best column, its probability."""

    char: str
    first: int
    last: int
    peak: int
    confidence: float


def greedy_decode(probs: np.ndarray, weights: np.ndarray | None = None) -> list[Emitted]:
    """The best path of ``(T, NUM_CLASSES)`` probabilities: repeats merged, blanks dropped, left to right.

    `weights` (``NUM_CLASSES``) multiply the probabilities before each column's best class is taken: a
    prior on classes the reader under-calls (see `reading_weights`); confidences stay the reader's own.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES:
        raise ValueError(f"probabilities of shape {probs.shape}: expected (T, {NUM_CLASSES})")
    best = (probs if weights is None else probs * weights).argmax(axis=1)
    out: list[Emitted] = []
    t = 0
    n = len(best)
    while t < n:
        k = int(best[t])
        end = t
        while end + 1 < n and best[end + 1] == k:
            end += 1
        if k != BLANK:
            run = probs[t : end + 1, k]
            peak = t + int(run.argmax())
            out.append(Emitted(ALPHABET[k - 1], t, end, peak, float(run.max())))
        t = end + 1
    return out


def digits_log_likelihood(probs: np.ndarray, digits: str) -> float:
    """Natural log of the probability the reader gives the digit string `digits` over a line's columns
    (``(T, NUM_CLASSES)``), summed over every path (the CTC forward algorithm). Whatever is not a digit
    counts as a blank: two readings of a line are compared on their digits, whatever marks lie between.

    Probabilities are rescaled at each column instead of added as logarithms: as exact, and a fraction of
    the cost on the few dozen columns of a line.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES:
        raise ValueError(f"probabilities of shape {probs.shape}: expected (T, {NUM_CLASSES})")
    if any(ch not in DIGITS for ch in digits):
        raise ValueError(f"{digits!r}: digits only")
    labels = [int(d) + 1 for d in digits]  # a digit's column in `columns` below
    columns = np.empty((len(probs), 11))
    columns[:, 1:] = probs[:, 1:11]
    columns[:, 0] = np.clip(1.0 - columns[:, 1:].sum(axis=1), 0.0, None)
    columns = np.maximum(columns, 1e-30)
    extended = np.zeros(2 * len(labels) + 1, np.int64)  # blank, d1, blank, d2, ..., blank
    extended[1::2] = labels
    # A state may skip the blank before it when it is a digit unlike the one two states back.
    skip = np.zeros(len(extended), bool)
    skip[3::2] = extended[3::2] != extended[1:-2:2]
    alpha = np.zeros(len(extended))
    alpha[0] = columns[0, 0]
    if len(extended) > 1:
        alpha[1] = columns[0, extended[1]]
    log_scale = 0.0
    for t in range(1, len(columns)):
        total = alpha.sum()
        if total <= 0.0:
            return float("-inf")
        alpha /= total
        log_scale += np.log(total)
        moved = alpha.copy()
        moved[1:] += alpha[:-1]
        moved[2:] += np.where(skip[2:], alpha[:-2], 0.0)
        alpha = moved * columns[t, extended]
    end = alpha[-1] + (alpha[-2] if len(extended) > 1 else 0.0)
    return float(np.log(end) + log_scale) if end > 0.0 else float("-inf")


def reading_weights(separator: float) -> np.ndarray:
    """Class weights for `greedy_decode` that favour the decimal and thousands marks by `separator`."""
    weights = np.ones(NUM_CLASSES, np.float32)
    for mark in ".,":
        weights[ALPHABET.index(mark) + 1] = separator
    return weights


def faint_separators(emitted: list[Emitted], probs: np.ndarray, floor: float) -> list[Emitted]:
    """`emitted` with a decimal or thousands mark added between two digits wherever the blank columns
    between them give the mark (`.` and `,` together) at least `floor` on one column.

    A small pen dot between two digits gets a few percent from the reader, far below the blank, so the
    best path drops it; between two digits it is almost never anything else."""
    if floor <= 0 or len(emitted) < 2:
        return emitted
    probs = np.asarray(probs)
    dot, comma = ALPHABET.index(".") + 1, ALPHABET.index(",") + 1
    out = [emitted[0]]
    for a, b in zip(emitted, emitted[1:], strict=False):
        if a.char in DIGITS and b.char in DIGITS and b.first > a.last + 1:
            gap = probs[a.last + 1 : b.first]
            marks = gap[:, dot] + gap[:, comma]
            t = int(marks.argmax())
            if float(marks[t]) >= floor:
                k = dot if gap[t, dot] >= gap[t, comma] else comma
                column = a.last + 1 + t
                out.append(Emitted(ALPHABET[k - 1], column, column, column, float(marks[t])))
        out.append(b)
    return out


def text_of(emitted: list[Emitted]) -> str:
    """The reading as written: the characters `kept` of the best path."""
    text = "".join(e.char for e in emitted)
    return "".join(text[i] for i in kept(text))


def kept(text: str) -> list[int]:
    """Positions of `text` that belong to the number: its digits, one separator in each gap between two
    digits, and a minus sign before the first digit. Marks written after an amount ("-", "=") or before it
    are not part of the number."""
    digits_at = [i for i, ch in enumerate(text) if ch in DIGITS]
    if not digits_at:
        return []
    first, last = digits_at[0], digits_at[-1]
    minus = [i for i in range(first) if text[i] == "-"]
    out = minus[-1:]
    after_digit = True
    for i in range(first, last + 1):
        if text[i] in DIGITS:
            out.append(i)
            after_digit = True
        elif after_digit:
            out.append(i)
            after_digit = False
    return out


def digits_only(text: str) -> str:
    """The digits of `text` (separators and line breaks dropped)."""
    return "".join(ch for ch in text if ch in DIGITS)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two readings (insertions, deletions, substitutions)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
