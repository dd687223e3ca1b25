"""PNG renderings of a capture: false colour previews and single bands (for Label Studio).

The cube is first reduced to at most ``max_size`` pixels on the long side by area-mean over
integer blocks (cheap, no resampling library), then percentile-stretched (1st-99th percentile,
estimated on a fixed strided subsample so the result is deterministic and fast) and written as an
8-bit PNG. The same capture always gives the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from wound.capture import Capture

FALSE_COLOUR_NM = (640.0, 550.0, 460.0)  # R, G, B targets
PERCENTILES = (1.0, 99.0)
_SAMPLE = 65_536  # about this many values decide the stretch
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def false_colour_bands(wavelengths: tuple[float, ...]) -> tuple[int, int, int]:
    """Indices of the bands nearest 640/550/460 nm (R/G/B); an RGB photo maps to itself."""
    wl = np.asarray(wavelengths, dtype=float)
    r, g, b = (int(np.abs(wl - target).argmin()) for target in FALSE_COLOUR_NM)
    return r, g, b


def _block_mean(planes: np.ndarray, max_size: int | None) -> np.ndarray:
    """Area-mean ``planes`` (K x H x W) by an integer factor so the long side <= max_size."""
    _, h, w = planes.shape
    if max_size is None or max(h, w) <= max_size:
        return planes
    if max_size < 1:
        raise ValueError(f"max_size must be >= 1, got {max_size}")
    f = -(-max(h, w) // max_size)  # ceil
    hh, ww = h // f, w // f
    if hh == 0 or ww == 0:  # extremely elongated: fall back to striding
        return planes[:, ::f, ::f]
    # Rows first (whole contiguous rows added), then columns on the 1/f-size result: ~3x faster
    # than reshape(...).mean(axis=(2, 4)) (a 1024 x 1280 capture: ~20 -> ~6 ms).
    rows = np.array(planes[:, 0 : hh * f : f, : ww * f], dtype=np.float32)
    for dy in range(1, f):
        rows += planes[:, dy : hh * f : f, : ww * f]
    out = np.ascontiguousarray(rows[:, :, 0::f])
    for dx in range(1, f):
        out += rows[:, :, dx::f]
    out *= np.float32(1.0 / (f * f))
    return out


def _stretch(planes: np.ndarray) -> np.ndarray:
    """Percentile stretch (one range for all planes, keeping colour balance) to uint8."""
    flat = planes.reshape(-1)
    step = max(1, flat.size // _SAMPLE)
    sample = flat[::step]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return np.zeros(planes.shape, dtype=np.uint8)
    lo, hi = (float(v) for v in np.percentile(sample.astype(np.float64), PERCENTILES))
    span = hi - lo  # float64: no overflow for float32 values, however extreme
    if not (np.isfinite(span) and span > 0):
        span = max(abs(lo), 1.0) * 1e-6  # a constant image: one flat grey level
    scaled = (planes.astype(np.float64) - lo) * (255.0 / span)
    np.nan_to_num(scaled, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return (scaled + 0.5).astype(np.uint8)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(array: np.ndarray) -> bytes:
    """8-bit grey (H x W) or RGB (H x W x 3) PNG: "Up" filter + zlib RLE, level 1.

    About 3x faster than Pillow's adaptive filtering at similar size (a 512 x 512 preview in a
    few ms); any PNG reader decodes it (the tests read it back with Pillow).
    """
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"need uint8 H x W or H x W x 3, got {array.dtype} {array.shape}")
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels not in (1, 3):
        raise ValueError(f"need 1 or 3 channels, got {channels}")
    rows = array.reshape(h, w * channels)
    raw = np.empty((h, w * channels + 1), dtype=np.uint8)
    raw[:, 0] = 2  # filter type Up: each row minus the row above (mod 256)
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    idat = packer.compress(raw.data) + packer.flush()
    colour_type = 0 if channels == 1 else 2
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def render_preview(capture: Capture, *, max_size: int | None = 512) -> bytes:
    """False colour PNG (bands nearest 640/550/460 nm as R/G/B), long side <= ``max_size``."""
    bands = false_colour_bands(capture.wavelengths)
    with np.errstate(over="ignore", invalid="ignore"):  # extreme values: clipped by _stretch
        planes = _block_mean(capture.cube[list(bands)], max_size)
        rgb = _stretch(np.asarray(planes, dtype=np.float32))
    return encode_png(np.ascontiguousarray(rgb.transpose(1, 2, 0)))


def render_band_png(capture: Capture, band_index: int, *, max_size: int | None = 512) -> bytes:
    """One band as an 8-bit grey PNG; ``max_size=None`` keeps the full resolution."""
    c = capture.cube.shape[0]
    if not -c <= band_index < c:
        raise IndexError(f"band {band_index} out of range for {c} bands")
    with np.errstate(over="ignore", invalid="ignore"):
        plane = _block_mean(capture.cube[band_index : band_index + 1 or None], max_size)
        grey = _stretch(np.asarray(plane, dtype=np.float32))[0]
    return encode_png(grey)
