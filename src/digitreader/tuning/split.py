"""The held-out part of a user's pictures: stratified, the larger of 20% and 50 pictures (at most half).

Strata are the number of digits in the text (1, 2, 3, 4, 5 or more; a long number is harder to read, and
a split that put them all on one side would measure something else), or for single digits the digit.
The split is a function of the texts, their order and the seed alone, so a run repeated on the same
folder scores the same pictures.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from digitreader.ctc import digits_only

HELD_OUT_FRACTION = 0.2
HELD_OUT_MIN = 50
TOO_FEW_TO_MEASURE = 20  # fewer held-out pictures than this cannot tell a real change from chance


def length_bucket(text: str) -> str:
    """The stratum of a text: its number of digits, "5+" from five."""
    n = len(digits_only(text))
    return str(n) if n < 5 else "5+"


def held_out_size(n: int) -> int:
    """How many of `n` pictures are held out: max(20%, 50), never more than half."""
    return min(max(math.ceil(HELD_OUT_FRACTION * n), HELD_OUT_MIN), n // 2)


def split_held_out(
    texts: Sequence[str], seed: int = 0, stratum: Callable[[str], str] = length_bucket
) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices) of `texts`, each stratum (by default the length; for single
    digits the digit itself) held out in proportion."""
    n_out = held_out_size(len(texts))
    strata: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        strata[stratum(text)].append(i)
    rng = np.random.default_rng([seed, 15])
    # Largest remainder: each stratum's share of n_out, rounded so the shares add up to n_out.
    keys = sorted(strata)
    exact = {k: n_out * len(strata[k]) / max(1, len(texts)) for k in keys}
    share = {k: math.floor(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: exact[k] - share[k], reverse=True)[: n_out - sum(share.values())]:
        share[k] += 1
    held: list[int] = []
    for k in keys:
        members = np.array(strata[k])
        held += [int(i) for i in rng.permutation(members)[: share[k]]]
    held_set = set(held)
    return [i for i in range(len(texts)) if i not in held_set], sorted(held)
