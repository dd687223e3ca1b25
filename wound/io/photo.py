"""Plain RGB photographs (PNG/JPEG, via Pillow) as 3-band captures, and mask files.

A photo becomes a cube ``[blue, green, red]`` (8-bit values / 255, sRGB-encoded, not linear
reflectance) with wavelengths (450, 550, 610) nm: approximate centres of camera colour
channels, listed in increasing order. Spacing is unknown (None). Pixels are kept as stored (the
EXIF orientation is not applied, so masks drawn on the stored pixels stay aligned).

The capture time offered is EXIF DateTimeOriginal (with OffsetTimeOriginal when present; no
offset = UTC), else EXIF DateTime; :func:`wound.io.read.read_capture` falls back to the file's
modification time (UTC).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from wound.errors import DimensionLimitError, UnreadableFileError
from wound.io.limits import ReadLimits
from wound.io.mask import decode_mask
from wound.io.raw import RawCapture

PHOTO_WAVELENGTHS = (450.0, 550.0, 610.0)
_EXIF_IFD = 0x8769
_DATETIME, _DATETIME_ORIGINAL, _OFFSET_ORIGINAL = 306, 36867, 36881


@contextmanager
def open_image(path: Path, limits: ReadLimits) -> Iterator[Image.Image]:
    """Open with Pillow, header only; size checked against ``limits`` before any decoding."""
    source = str(path)
    limits.check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DimensionLimitError(source, f"image too large ({exc})") from None
    except Exception as exc:
        raise UnreadableFileError(source, f"not a readable image ({exc})") from None
    with im:
        width, height = im.size
        limits.check_dimensions(source, len(im.getbands()), height, width)
        yield im


def _decode(im: Image.Image, mode: str, source: str) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return np.asarray(im.convert(mode))
    except Exception as exc:
        raise UnreadableFileError(source, f"corrupt or truncated image data ({exc})") from None


def read_photo(path: Path, *, limits: ReadLimits) -> RawCapture:
    """A PNG/JPEG photograph as a 3-band :class:`RawCapture` (cube ``B, G, R``)."""
    source = str(path)
    with open_image(path, limits) as im:
        timestamp = _exif_time(im)
        rgb = _decode(im, "RGB", source)
    cube = rgb[:, :, ::-1].transpose(2, 0, 1).astype(np.float32, order="C")
    cube *= np.float32(1.0 / 255.0)
    return RawCapture(
        cube=cube,
        wavelengths=PHOTO_WAVELENGTHS,
        spacing_mm=None,
        metadata={"source": "photo"},
        timestamp=timestamp,
    )


def read_mask(path: Path, shape: tuple[int, int], *, limits: ReadLimits) -> np.ndarray:
    """A mask image (PNG, ...) as uint8 0/1, checked against shape (:mod:`wound.io.mask`:
    0/255, 0/1, RGB or palette; a non-binary mask is refused)."""
    with open_image(path, limits) as im:
        return decode_mask(im, shape, str(path))


def _exif_time(im: Image.Image) -> datetime | None:
    try:
        exif = im.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # unreadable EXIF is no capture time, not a failed import
        return None
    value = sub.get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(value, str):
        return None
    try:
        when = datetime.strptime(value.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    offset = sub.get(_OFFSET_ORIGINAL) if sub.get(_DATETIME_ORIGINAL) else None
    if isinstance(offset, str):
        try:
            return datetime.fromisoformat(when.isoformat() + offset.strip()).astimezone(UTC)
        except (ValueError, OverflowError):  # an odd offset, or year 1 moved before year 1
            pass
    return when.replace(tzinfo=UTC)
