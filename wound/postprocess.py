"""Resizing to the network's input size, and clean-up of a predicted binary mask.

Training (``training.transforms.ResizeLongestd``) and inference (:class:`wound.predict.Predictor`)
resize with the same function, :func:`resize_images`, so a model sees photographs at the scale it
was trained on whatever their pixel size (docs/benchmark-segmentation.md).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage


def scaled_size(
    shape: tuple[int, int], input_size: int | None, scale: float = 1.0
) -> tuple[int, int]:
    """The size an ``shape`` image is run at: its longer side ``input_size * scale`` (aspect
    kept; native size times ``scale`` when ``input_size`` is None)."""
    h, w = int(shape[0]), int(shape[1])
    factor = scale if input_size is None else input_size * scale / max(h, w)
    return max(1, round(h * factor)), max(1, round(w * factor))


def resize_images(x: torch.Tensor, size: tuple[int, int], *, labels: bool = False) -> torch.Tensor:
    """``N x C x H x W`` to ``size``: bilinear with antialiasing (images, logits), nearest for
    ``labels``; returned unchanged when already that size."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if labels:
        return F.interpolate(x.float(), size=size, mode="nearest-exact").to(x.dtype)
    return F.interpolate(x.float(), size=size, mode="bilinear", antialias=True, align_corners=False)


def clean_mask(
    mask: np.ndarray, *, min_fraction: float = 0.0, fill_holes: bool = False
) -> np.ndarray:
    """A binary ``H x W`` mask with 8-connected regions smaller than ``min_fraction`` of the image
    removed and enclosed holes filled (a uint8 0/1 array)."""
    out = np.asarray(mask) != 0
    if min_fraction > 0 and out.any():
        regions, count = ndimage.label(out, structure=np.ones((3, 3), dtype=bool))
        sizes = np.bincount(regions.ravel(), minlength=count + 1)
        keep = sizes >= min_fraction * out.size
        keep[0] = False
        out = keep[regions]
    if fill_holes and out.any():
        out = ndimage.binary_fill_holes(out)
    return out.astype(np.uint8)
