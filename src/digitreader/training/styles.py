"""Digit shapes MNIST's writers rarely made, drawn onto training images by their label.

Much of the world writes a 1 with a long up-stroke from its top and crosses its 7s. MNIST has few of
these, and the classifier read other writers' continental 1s as 7 (the most common error on CVL's single
digits). A share of the 1s and 7s of a batch get the stroke that makes them so, drawn with a pen about as
wide as MNIST's, before the batch's other distortions (`augment.augment_batch`) slant and bend it with the
rest of the digit.
"""

from __future__ import annotations

import math

import torch

_INK = 0.5  # a pixel brighter than this is ink


def _segment(
    height: int, width: int, p0: tuple[float, float], p1: tuple[float, float], pen: float
) -> torch.Tensor:
    """Ink (H, W) in [0, 1] of a straight stroke from p0 to p1 ((x, y) pixels), `pen` pixels wide."""
    ys = torch.arange(height, dtype=torch.float32)[:, None]
    xs = torch.arange(width, dtype=torch.float32)[None, :]
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = (((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6)).clamp(0.0, 1.0)
    dist = torch.sqrt((xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2)
    return (pen / 2 + 0.5 - dist).clamp(0.0, 1.0)  # about one pixel of anti-aliased rim


def add_styles(
    images: torch.Tensor, labels: torch.Tensor, share: float, generator: torch.Generator
) -> torch.Tensor:
    """`images` (float [N, 1, H, W], ink bright) with a share of their 1s and 7s restyled: a 1 given a
    long up-stroke from its top, a 7 a bar across its stem. Returns a new tensor.

    Slashed zeros were tried too and left out: the classifier then took a lone slanted stroke for a 0."""
    n, _, height, width = images.shape
    # Every random number drawn up front, in one fixed order, whatever the labels.
    pick = torch.rand(n, generator=generator) < share
    length = torch.rand(n, generator=generator)
    angle = torch.rand(n, generator=generator)
    pen = 1.6 + 1.2 * torch.rand(n, generator=generator)
    out = images.clone()
    for i in torch.nonzero(pick & ((labels == 1) | (labels == 7))).flatten().tolist():
        ink = images[i, 0] > _INK
        rows = torch.nonzero(ink.any(dim=1)).flatten()
        cols = torch.nonzero(ink.any(dim=0)).flatten()
        if len(rows) < 4 or len(cols) == 0:
            continue
        top, bottom = int(rows[0]), int(rows[-1])
        left, right = int(cols[0]), int(cols[-1])
        h = bottom - top + 1
        label = int(labels[i])
        if label == 1:  # the up-stroke: from the top of the stem down to the left, 30-90% of the height
            xs = torch.nonzero(ink[top : top + 2].any(dim=0)).flatten().float()
            x_top = float(xs.mean())
            a = math.radians(25 + 30 * float(angle[i]))
            reach = h * (0.3 + 0.6 * float(length[i]))
            end = (x_top - reach * math.sin(a), top + reach * math.cos(a))
            stroke = _segment(height, width, (x_top, float(top)), end, float(pen[i]))
        else:  # a bar across the stem, a little below the middle
            y = top + h * (0.45 + 0.15 * float(angle[i]))
            xs = torch.nonzero(ink[int(y)]).flatten().float()
            centre = float(xs.mean()) if len(xs) else (left + right) / 2
            half = h * (0.15 + 0.13 * float(length[i]))
            stroke = _segment(height, width, (centre - half, y), (centre + half, y - 0.5), float(pen[i]))
        out[i, 0] = torch.maximum(out[i, 0], stroke)
    return out
