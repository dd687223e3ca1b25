"""The canonical capture TIFF: encode, decode, write.

Layout (plain TIFF written by tifffile, readable by any TIFF tool):

- series 0: the cube, ``C x H x W`` float32, one page per band (minisblack, uncompressed by
  default). The first page's ImageDescription is tifffile "shaped" JSON::

      {"shape": [C, H, W], "wound_capture": 1, "header": Capture.header(), "truth": [names]}

  so the wavelengths (``header.wavelengths_nm``), spacing, metadata and reference data travel
  with the pixels. XResolution/YResolution carry ``spacing_mm`` as pixels per centimetre
  (informative: the JSON header holds the exact value).
- series 1 (only when ``capture.truth`` has arrays): the masks, ``K x H x W`` uint8, one page
  each, in the order of the ``truth`` names (a subset of ``depth``, ``healing``, ``wound_mask``).

BigTIFF is used only when the data would not fit a classic TIFF.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from pydantic import ValidationError

from wound.capture import Capture, GroundTruth
from wound.errors import CaptureError, MetadataError, UnreadableFileError, UnsupportedFormatError
from wound.io.raw import describe_validation_error

FORMAT_KEY = "wound_capture"
FORMAT_VERSION = 1
TRUTH_NAMES = ("depth", "healing", "wound_mask")
COMPRESSIONS = (None, "zlib", "lzw", "zstd", "lzma", "packbits")
_CLASSIC_LIMIT = 2**32 - 2**25  # leave room for tags in a classic (32-bit offset) TIFF


def _resolution(spacing_mm: float | None) -> dict[str, Any]:
    if spacing_mm is None:
        return {}
    per_cm = 10.0 / spacing_mm
    return {"resolution": (per_cm, per_cm), "resolutionunit": "CENTIMETER"}


def _write(
    capture: Capture, target: Any, compression: str | None, *, reserve: bool = False
) -> tuple[int, int] | None:
    """Write the canonical TIFF to ``target``. ``reserve`` (uncompressed only): write the cube's
    tags and zero bytes in place of its pixels, and return their ``(offset, size)``."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    truth = capture.truth.arrays() if capture.truth is not None else {}
    names = [n for n in TRUTH_NAMES if n in truth]
    cube = np.ascontiguousarray(capture.cube, dtype=np.float32)  # no copy when already so
    extra: dict[str, Any] = {}
    if compression is not None:
        extra = {"compression": compression, "predictor": True}
    big = cube.nbytes * (1 + len(names)) > _CLASSIC_LIMIT
    placed = None
    with tifffile.TiffWriter(target, bigtiff=big) as tw:
        placed = tw.write(
            None if reserve else cube,
            shape=cube.shape,
            dtype=cube.dtype,
            returnoffset=reserve,
            photometric="minisblack",
            metadata={FORMAT_KEY: FORMAT_VERSION, "header": capture.header(), "truth": names},
            software="wound",
            **_resolution(capture.spacing_mm),
            **extra,
        )
        if names:
            masks = np.stack([np.asarray(truth[n], dtype=np.uint8) for n in names])
            tw.write(
                masks,
                photometric="minisblack",
                metadata={FORMAT_KEY: FORMAT_VERSION, "truth": names},
                software="wound",
                **extra,
            )
    return placed if reserve else None


def encode_capture_tiff(capture: Capture, *, compression: str | None = None) -> bytes:
    """The canonical TIFF of ``capture`` in memory (uncompressed unless asked).

    Uncompressed, tifffile writes the tags around a reserved pixel area that is then filled by
    one ``np.copyto`` (no intermediate ``tobytes()`` copy, and the GIL is released while the
    pixels are copied, so an ingest thread does not stall the caller's other threads).
    """
    buf = io.BytesIO()
    if compression is not None:
        _write(capture, buf, compression)
        return buf.getvalue()
    placed = _write(capture, buf, None, reserve=True)
    assert placed is not None
    offset, size = placed
    cube = capture.cube
    # tifffile reports the first page (or, for tiny cubes it writes as one page, all of them);
    # either way the pixels are contiguous. Any other layout: write the pixels the plain way.
    if size not in (cube.nbytes, cube.nbytes // max(1, cube.shape[0])) or (
        offset + cube.nbytes > buf.seek(0, io.SEEK_END)
    ):
        plain = io.BytesIO()
        _write(capture, plain, None)
        return plain.getvalue()
    with buf.getbuffer() as view:
        pixels = np.frombuffer(view, dtype=np.float32, count=cube.size, offset=offset)
        np.copyto(pixels.reshape(cube.shape), cube, casting="same_kind")
        del pixels
    return buf.getvalue()


def write_capture(capture: Capture, path: Path, *, compression: str | None = None) -> Path:
    """Write the canonical TIFF to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.close(fd)
        _write(capture, tmp, compression)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def canonical_description(tif: tifffile.TiffFile) -> dict[str, Any] | None:
    """The canonical JSON description of series 0, or None when the file is not canonical."""
    try:
        shaped = tif.shaped_metadata
    except Exception:  # a malformed description is "not canonical", not a crash
        return None
    if not shaped or not isinstance(shaped[0], dict) or FORMAT_KEY not in shaped[0]:
        return None
    return shaped[0]


def read_canonical(
    tif: tifffile.TiffFile, description: dict[str, Any], source: str
) -> tuple[dict[str, Any], np.ndarray, GroundTruth | None]:
    """(header, cube, truth) of a canonical file. Raises :class:`CaptureError` subclasses."""
    if description.get(FORMAT_KEY) != FORMAT_VERSION:
        raise UnsupportedFormatError(  # the value itself is not echoed: it may be any text
            source, f"canonical capture TIFF of an unknown version (this reader: {FORMAT_VERSION})"
        )
    header = description.get("header")
    if not isinstance(header, dict) or "wavelengths_nm" not in header:
        raise MetadataError(source, "canonical TIFF without a header holding wavelengths_nm")
    names = description.get("truth") or []
    if not isinstance(names, list) or not all(n in TRUTH_NAMES for n in names):
        raise MetadataError(source, f"canonical TIFF truth names must be among {TRUTH_NAMES}")
    series = tif.series
    cube = decode_series(series[0], source)
    if cube.ndim == 2:
        cube = cube[np.newaxis]
    if cube.dtype != np.float32:
        raise UnsupportedFormatError(source, f"canonical cube must be float32, got {cube.dtype}")
    truth = None
    if names:
        if len(series) < 2:
            raise UnreadableFileError(source, f"truth masks {names} announced but missing")
        expected = (len(names), *cube.shape[-2:])
        if int(np.prod(series[1].shape)) != int(np.prod(expected)):
            raise UnreadableFileError(source, f"truth masks do not match {expected}")
        masks = decode_series(series[1], source).reshape(expected)
        truth = GroundTruth(**{n: masks[i] for i, n in enumerate(names)})
    return header, cube, truth


def decode_series(series: Any, source: str) -> np.ndarray:
    """Decode one tifffile series; any decoder failure becomes :class:`UnreadableFileError`."""
    try:
        arr = series.asarray()
    except CaptureError:
        raise
    except MemoryError:
        raise UnreadableFileError(source, "not enough memory to decode the pixels") from None
    except Exception as exc:
        raise UnreadableFileError(source, f"corrupt or truncated pixel data ({exc})") from None
    return np.asarray(arr)


def open_tiff(data: Any, source: str) -> tifffile.TiffFile:
    """Open a TIFF (path, file object or bytes wrapper) or raise :class:`UnreadableFileError`."""
    try:
        return tifffile.TiffFile(data)
    except Exception as exc:
        raise UnreadableFileError(source, f"not a readable TIFF ({exc})") from None


def decode_capture_tiff(data: bytes, source: str) -> Capture:
    """Inverse of :func:`encode_capture_tiff`. Bad bytes raise a :class:`CaptureError`."""
    with open_tiff(io.BytesIO(data), source) as tif:
        check_complete(tif, len(data), source)
        description = canonical_description(tif)
        if description is None:
            raise UnsupportedFormatError(source, "not a canonical capture TIFF")
        header, cube, truth = read_canonical(tif, description, source)
    try:
        capture = Capture.from_header(header, cube, truth)
    except ValidationError as exc:
        raise MetadataError(source, describe_validation_error(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(source, f"invalid capture header ({exc})") from None
    return capture.validate(source)


def check_complete(tif: tifffile.TiffFile, size: int, source: str) -> None:
    """Every strip/tile of every page lies inside the file (catches truncation early)."""
    try:
        pages = list(tif.pages)
    except Exception as exc:
        raise UnreadableFileError(source, f"corrupt page directory ({exc})") from None
    for index, page in enumerate(pages):
        offsets = getattr(page, "dataoffsets", ())
        counts = getattr(page, "databytecounts", ())
        ends = [o + c for o, c in zip(offsets, counts, strict=False) if c]
        if ends and max(ends) > size:
            raise UnreadableFileError(
                source,
                f"truncated file: page {index} needs {max(ends)} bytes, file has {size}",
            )
