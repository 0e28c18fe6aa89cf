"""Random distortions of a training batch that imitate real handwriting, done in torch on the whole batch.

One `affine_grid` + `grid_sample` does rotation, scale, slant (shear) and shift together; an optional smooth
random displacement added to the same sampling grid wobbles the strokes like a hand does; stroke thickness is
changed after resampling by blending towards a 3x3 dilation (`max_pool2d`) or erosion (`-max_pool2d(-x)`).

Every random number comes from the caller's `torch.Generator`, drawn in a fixed order, so a resumed run
distorts exactly the batches a straight run would.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digitreader.models.recipe import Augmentation
from digitreader.training.styles import add_styles

_ELASTIC_CELLS = 4  # the random displacement is drawn on a 4x4 lattice and smoothly upsampled


def _uniform(n: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def augment_batch(
    images: torch.Tensor,
    augment: Augmentation,
    generator: torch.Generator,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Distort `images` (float [N, 1, H, W] in [0, 1], ink bright) with the strengths in `augment`;
    with their `labels`, restyle a share of 1s and 7s first (`augment.styles`, `training.styles`).

    Returns a new tensor of the same shape, in [0, 1]. With every strength 0 the input is returned as is.
    """
    if not augment.enabled or images.shape[0] == 0:
        return images
    if augment.styles > 0 and labels is not None:
        images = add_styles(images, labels, augment.styles, generator)
    n, _, height, width = images.shape
    # Draw everything up front, in one fixed order, whether or not a strength is 0 (keeps the stream aligned).
    active = (torch.rand(n, generator=generator) < augment.probability).float()
    angle = _uniform(n, generator, -1, 1) * math.radians(augment.rotate_deg) * active
    zoom = 1 + _uniform(n, generator, -1, 1) * augment.scale * active
    shear = torch.tan(_uniform(n, generator, -1, 1) * math.radians(augment.shear_deg) * active)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * augment.shift_px * active[:, None]
    thick_pick = torch.rand(n, generator=generator)
    thick_amount = torch.rand(n, generator=generator)
    wobble = torch.rand(n, 2, _ELASTIC_CELLS, _ELASTIC_CELLS, generator=generator) * 2 - 1

    # grid_sample maps output pixels to input positions: theta = (rotation @ shear) / zoom, plus a shift.
    # The distributions are symmetric, so sampling with this matrix is as random as applying its inverse.
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos / zoom
    theta[:, 0, 1] = (cos * shear - sin) / zoom
    theta[:, 1, 0] = sin / zoom
    theta[:, 1, 1] = (sin * shear + cos) / zoom
    theta[:, 0, 2] = shift[:, 0] * 2 / width  # pixels -> normalised [-1, 1] coordinates
    theta[:, 1, 2] = shift[:, 1] * 2 / height
    grid = F.affine_grid(theta, [n, 1, height, width], align_corners=False)
    if augment.elastic_px > 0:
        field = F.interpolate(wobble, size=(height, width), mode="bicubic", align_corners=True)
        scale = torch.tensor([2 / width, 2 / height]) * augment.elastic_px
        grid = grid + field.permute(0, 2, 3, 1) * scale * active[:, None, None, None]
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    if augment.thickness > 0:
        # A fraction `thickness` of samples changes stroke width (half thicker, half thinner), by a random
        # amount.
        # Only the chosen samples are pooled (pooling the whole batch costs as much as the resampling).
        half = augment.thickness / 2
        amount = thick_amount[:, None, None, None]
        thicker = torch.nonzero((thick_pick < half) & (active > 0)).flatten()
        thinner = torch.nonzero((thick_pick > 1 - half) & (active > 0)).flatten()
        if len(thicker):
            sub = out[thicker]
            out[thicker] = sub + amount[thicker] * (F.max_pool2d(sub, 3, stride=1, padding=1) - sub)
        if len(thinner):
            sub = out[thinner]
            out[thinner] = sub + amount[thinner] * (-F.max_pool2d(-sub, 3, stride=1, padding=1) - sub)
    return out.clamp_(0.0, 1.0)
