"""Multi-band TIFF and OME-TIFF from devices and other tools -> :class:`RawCapture`.

Handles the canonical capture TIFF (:mod:`wound.io.tiff`), OME-TIFF, tifffile "shaped" files,
ImageJ/plain stacks with one page per band, and multi-sample (band-last) images; striped or
tiled, uncompressed/zlib/LZW/..., classic or BigTIFF. Dimensions are checked from the tags
before any pixel is decoded.

Layout: tifffile's series axes decide which dimension holds the bands (``C``, ``S``, ``I``, ...;
singleton dimensions dropped). When that is ambiguous (unnamed ``Q`` axes) or disagrees with the
number of known wavelengths, the first or last dimension whose size equals that number is taken
(band-first preferred).

Pixel values: float -> float32 as is; integers are divided by the dtype's maximum (uint16 ->
/65535) unless a ``reflectance_scale`` is given (e.g. 4095 for 12-bit data in uint16).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from wound.errors import (
    BandMismatchError,
    CaptureError,
    MetadataError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from wound.io.limits import ReadLimits
from wound.io.ome import NAME_NM, parse_ome
from wound.io.raw import RawCapture, parse_scale
from wound.io.tiff import (
    canonical_description,
    check_complete,
    decode_series,
    open_tiff,
    read_canonical,
)

_WAVELENGTH_KEYS = ("wavelengths_nm", "wavelengths", "wavelength")
_RGB_NM = (450.0, 550.0, 610.0)
_MM_PER_UNIT = {2: 25.4, 3: 10.0, 4: 1.0, 5: 1e-3}  # inch, cm, mm, µm (tifffile RESUNIT)
_MM_PER_IMAGEJ_UNIT = {"mm": 1.0, "cm": 10.0, "micron": 1e-3, "um": 1e-3, "µm": 1e-3}


def read_tiff(
    path: Path,
    *,
    limits: ReadLimits,
    n_wavelengths: int | None,
    scale: float | None,
) -> RawCapture:
    """Decode a TIFF; ``n_wavelengths`` (from the caller) helps to find the band axis."""
    source = str(path)
    size = limits.check_file(path)
    with open_tiff(path, source) as tif:
        try:
            return _read(tif, source, size, limits, n_wavelengths, scale)
        except CaptureError:
            raise
        except MemoryError:
            raise UnreadableFileError(source, "not enough memory to read the file") from None
        except Exception as exc:  # a library failure on a malformed file
            raise UnreadableFileError(
                source, f"corrupt or truncated TIFF ({type(exc).__name__}: {exc})"
            ) from None


def _read(
    tif: tifffile.TiffFile,
    source: str,
    size: int,
    limits: ReadLimits,
    n_wavelengths: int | None,
    scale: float | None,
) -> RawCapture:
    series = tif.series
    if not series:
        raise UnreadableFileError(source, "no image in the TIFF")
    check_complete(tif, size, source)
    description = canonical_description(tif)
    if description is not None:
        return _canonical(tif, description, source, limits)

    raw = RawCapture(cube=np.empty((0, 0, 0), np.float32))
    shaped = _shaped(tif)
    if tif.is_ome and tif.ome_metadata:
        ome = parse_ome(tif.ome_metadata)
        raw.wavelengths, raw.spacing_mm, raw.timestamp = (
            ome.wavelengths,
            ome.spacing_mm,
            ome.acquired,
        )
    imagej = tif.imagej_metadata if tif.is_imagej else None
    if raw.wavelengths is None and imagej:
        raw.wavelengths = _label_wavelengths(imagej.get("Labels"))
    for key in _WAVELENGTH_KEYS:
        if raw.wavelengths is None and isinstance(shaped.get(key), list):
            raw.wavelengths = tuple(float(x) for x in shaped[key])
    if isinstance(shaped.get("metadata"), dict):
        raw.metadata = dict(shaped["metadata"])
    if scale is None and shaped.get("reflectance_scale") is not None:
        scale = parse_scale(shaped["reflectance_scale"], source)

    page = tif.pages.first
    rgb = page.photometric == tifffile.PHOTOMETRIC.RGB
    if raw.wavelengths is None and n_wavelengths is None and rgb:
        raw.wavelengths = _RGB_NM[::-1]  # stored R, G, B; flipped to increasing below
    known = len(raw.wavelengths) if raw.wavelengths is not None else n_wavelengths

    parts = _stackable(series)
    shape = (len(parts), *parts[0].shape) if len(parts) > 1 else tuple(parts[0].shape)
    axes = "I" + parts[0].axes if len(parts) > 1 else parts[0].axes
    band_axis, spatial = _band_axis(shape, axes, known, source)
    bands = shape[band_axis] if band_axis is not None else 1
    height, width = (shape[i] for i in spatial)
    limits.check_dimensions(source, bands, height, width, np.dtype(parts[0].dtype).itemsize)

    arrays = [decode_series(s, source) for s in parts]
    arr = np.stack(arrays) if len(arrays) > 1 else arrays[0]
    keep = [band_axis, *spatial] if band_axis is not None else list(spatial)
    arr = arr.reshape([shape[i] for i in sorted(keep)])
    order = sorted(keep)
    arr = np.moveaxis(arr, [order.index(i) for i in keep], list(range(len(keep))))
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    cube = _reflectance(arr, scale, source)
    if rgb and raw.wavelengths == _RGB_NM[::-1]:
        cube, raw.wavelengths = cube[::-1].copy(), _RGB_NM
    raw.cube = cube
    if raw.spacing_mm is None:
        raw.spacing_mm = _resolution_mm(page, (imagej or {}).get("unit"))
    if raw.timestamp is None:
        raw.timestamp = _tiff_datetime(page)
    return raw


def _canonical(
    tif: tifffile.TiffFile, description: dict[str, Any], source: str, limits: ReadLimits
) -> RawCapture:
    shape = tuple(tif.series[0].shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise UnreadableFileError(source, f"canonical cube has shape {shape}, not C x H x W")
    limits.check_dimensions(source, *shape)  # float32 cube
    header, cube, truth = read_canonical(tif, description, source)
    metadata = header.get("metadata")
    reference = header.get("reference") or {}
    if not isinstance(metadata, dict) or not isinstance(reference, dict):
        raise MetadataError(source, "canonical header metadata/reference are not objects")
    try:
        wavelengths = tuple(float(x) for x in header["wavelengths_nm"])
        spacing = header.get("spacing_mm")
        spacing = None if spacing is None else float(spacing)
    except (TypeError, ValueError) as exc:
        raise MetadataError(source, f"invalid wavelengths or spacing in header ({exc})") from None
    return RawCapture(
        cube=cube,
        wavelengths=wavelengths,
        spacing_mm=spacing,
        metadata=dict(metadata),
        reference=dict(reference),
        truth=truth,
    )


def _shaped(tif: tifffile.TiffFile) -> dict[str, Any]:
    with contextlib.suppress(Exception):
        shaped = tif.shaped_metadata
        if shaped and isinstance(shaped[0], dict):
            return shaped[0]
    return {}


def _stackable(series: list[Any]) -> list[Any]:
    """Several 2-D series of one shape and dtype (one per band); else just series 0."""
    first = series[0]
    same = all(
        len(s.shape) == 2 and s.shape == first.shape and s.dtype == first.dtype for s in series
    )
    return list(series) if len(series) > 1 and same and first.kind != "ome" else [first]


def _band_axis(
    shape: tuple[int, ...], axes: str, known: int | None, source: str
) -> tuple[int | None, tuple[int, int]]:
    """(band axis or None for one band, (y axis, x axis)) in ``shape``."""
    dims = [i for i, (n, a) in enumerate(zip(shape, axes, strict=True)) if n != 1 or a in "YX"]
    if "Y" in axes and "X" in axes:
        spatial = (axes.index("Y"), axes.index("X"))
    elif len(dims) >= 2:
        spatial = (dims[-2], dims[-1])
    else:
        raise UnsupportedFormatError(source, f"cannot find image rows/columns in axes {axes!r}")
    others = [i for i in dims if i not in spatial]
    if len(others) > 1:
        raise UnsupportedFormatError(
            source, f"shape {shape} (axes {axes}) has more than one non-spatial dimension"
        )
    band = others[0] if others else None
    if known is not None and (shape[band] if band is not None else 1) != known:
        nonunit = [i for i in dims]
        candidates = [i for i in (nonunit[0], nonunit[-1]) if shape[i] == known]
        if len(nonunit) != 3 or not candidates:
            raise BandMismatchError(
                source,
                f"image of shape {shape} has no dimension of {known} bands for the wavelengths",
            )
        band = candidates[0]
        rest = [i for i in nonunit if i != band]
        spatial = (rest[0], rest[1])
    return band, spatial


def _reflectance(arr: np.ndarray, scale: float | None, source: str) -> np.ndarray:
    """float32 C-contiguous reflectance; integers divided by ``scale`` or the dtype maximum."""
    kind = arr.dtype.kind
    if kind == "f":
        cube = np.ascontiguousarray(arr, dtype=np.float32)
        if scale is not None:
            cube = cube / np.float32(scale)
        return cube
    if kind in "ui":
        divisor = float(scale) if scale is not None else float(np.iinfo(arr.dtype).max)
        if not divisor > 0:
            raise MetadataError(source, f"reflectance_scale must be positive, got {divisor}")
        cube = arr.astype(np.float32, order="C")
        cube *= np.float32(1.0 / divisor)
        return cube
    raise UnsupportedFormatError(source, f"pixel type {arr.dtype} is not a reflectance image")


def _label_wavelengths(labels: Any) -> tuple[float, ...] | None:
    """ImageJ slice labels such as "660 nm", one per band, else None."""
    if not isinstance(labels, list) or not labels:
        return None
    found = [NAME_NM.search(str(label)) for label in labels]
    if not all(found):
        return None
    return tuple(float(m.group(1)) for m in found if m)


def _resolution_mm(page: Any, imagej_unit: Any = None) -> float | None:
    """Pixel size from X/YResolution (inch, cm, or tifffile's mm/µm units; ImageJ's ``unit``
    when the tag says none), when square and plausible."""
    tags = page.tags
    unit = int(tags.valueof("ResolutionUnit", 2))
    per_unit = _MM_PER_UNIT.get(unit)
    if unit == 1 and isinstance(imagej_unit, str):
        per_unit = _MM_PER_IMAGEJ_UNIT.get(imagej_unit.strip().lower())
    xres, yres = tags.valueof("XResolution"), tags.valueof("YResolution")
    if per_unit is None or xres is None:
        return None

    def mm(res: Any) -> float | None:
        num, den = res if isinstance(res, tuple) else (res, 1)
        return per_unit * den / num if num and den else None

    x = mm(xres)
    y = mm(yres) if yres is not None else x
    if x is None or y is None or abs(x - y) > 0.01 * x or not 0 < x < 100:
        return None
    return x


def _tiff_datetime(page: Any) -> datetime | None:
    """The DateTime tag ("YYYY:MM:DD HH:MM:SS", no time zone: taken as UTC)."""
    value = page.tags.valueof("DateTime")
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip()[:19], "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
