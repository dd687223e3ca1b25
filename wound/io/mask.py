"""Wound-mask images in the encodings data sets use, decoded to uint8 0/1.

Understood: single-channel (``L``, ``I;16``, ``1``) with 0 = background and one other value =
wound (0/255, 0/1, ...); RGB/RGBA whose pixels are black (background) and one other colour
(wound, e.g. white 255,255,255 as in FUSeg); palette PNGs (decoded through their palette, the same
rule). An all-background mask is a valid "no wound" mask.

Refused, naming the file: a mask whose size differs from its image, and a mask that is not a
clean binary image (more than two distinct values or colours, e.g. an anti-aliased or JPEG-saved
mask, or a multi-class label map): training on a guessed threshold would silently change the
ground truth. docs/storage.md describes the import.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from wound.errors import MetadataError, UnreadableFileError

#: Suffixes tried, in order, for the mask of ``photo.jpg`` (``photo.png`` first).
MASK_SUFFIXES = (".png", ".bmp", ".gif", ".tif", ".tiff")


def _pixels(im: Image.Image, source: str) -> np.ndarray:
    """H x W (one channel) or H x W x C pixel values, palette images through their palette."""
    try:
        if im.mode == "P":
            im = im.convert("RGBA" if "transparency" in im.info else "RGB")
        elif im.mode in ("LA", "PA", "1"):
            im = im.convert("L")
        array = np.asarray(im)
    except Exception as exc:
        raise UnreadableFileError(source, f"corrupt or truncated mask image ({exc})") from None
    if array.ndim == 3 and array.shape[2] == 4:  # alpha says nothing about wound/background
        array = array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    return array


def decode_mask(im: Image.Image, shape: tuple[int, int], source: str) -> np.ndarray:
    """``im`` as uint8 0/1 (1 = wound); MetadataError for a size mismatch or a non-binary mask."""
    if (im.size[1], im.size[0]) != tuple(shape):
        raise MetadataError(
            source,
            f"mask is {im.size[1]}x{im.size[0]} but the image is {shape[0]}x{shape[1]}",
        )
    array = _pixels(im, source)
    flat = array.reshape(-1, array.shape[2]) if array.ndim == 3 else array.reshape(-1, 1)
    values = np.unique(flat, axis=0)
    background = values.any(axis=1) == 0
    if len(values) > 2 or (len(values) == 2 and not background.any()):
        shown = ", ".join(
            str(tuple(int(x) for x in v)) if len(v) > 1 else str(int(v[0])) for v in values[:4]
        )
        more = ", ..." if len(values) > 4 else ""
        raise MetadataError(
            source,
            f"not a binary mask: {len(values)} distinct values ({shown}{more}); expected 0 for "
            "background and one value or colour for wound (0/255, 0/1, black/white)",
        )
    if array.ndim == 3:
        return np.asarray(array.any(axis=2), dtype=np.uint8)
    return (array != 0).astype(np.uint8)
