"""``read_capture``: any supported file -> a validated, pseudonymised :class:`Capture`.

Formats are recognised by their first bytes: TIFF/BigTIFF (canonical, OME, device files; see
:mod:`wound.io.tiff_reader`), PNG and JPEG photographs (:mod:`wound.io.photo`).

Metadata: the fields found in the file, overridden/filled by the ``metadata`` argument. Besides
the :class:`CaptureMetadata` fields, ``metadata`` may hold ``spacing_mm`` (float),
``reflectance_scale`` (divisor for integer pixels) and ``reference`` (a ReferenceData dict).
``captured_at``: ``metadata`` argument, else the file's own metadata, else a timestamp embedded in
the file (EXIF DateTimeOriginal, OME AcquisitionDate, TIFF DateTime; without a zone = UTC), else
the file's modification time (UTC; marked ``captured_at_source="file_mtime"`` and then not part
of the capture's identity, so a copy of the file is the same capture). ``captured_at`` given
without a time zone, or outside the years 1900-2199, is an error.

The subject and the wound label (file or argument) are replaced by keyed pseudonyms
(:func:`wound.pseudonym.pseudonymise`, :func:`~wound.pseudonym.pseudonymise_wound`) before the
capture is built; the raw identifiers are never returned nor put in an error message. What is
validated: docs/storage.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from wound.bands import wavelength_mismatch
from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.errors import (
    BandMismatchError,
    CaptureError,
    MetadataError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from wound.io.limits import ReadLimits
from wound.io.photo import read_mask, read_photo
from wound.io.raw import RawCapture, describe_validation_error, parse_scale
from wound.io.tiff_reader import read_tiff
from wound.pseudonym import pseudonymise, pseudonymise_wound

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_EXTRA_KEYS = ("spacing_mm", "reflectance_scale", "reference")


def sniff_format(path: Path) -> str:
    """ "tiff", "png" or "jpeg" from the first bytes; raises for anything else."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot open: {exc.strerror or exc}") from None
    if head[:4] in TIFF_MAGIC:
        return "tiff"
    if head == PNG_MAGIC:
        return "png"
    if head[:3] == JPEG_MAGIC:
        return "jpeg"
    if not head:
        raise UnreadableFileError(path, "empty file")
    raise UnsupportedFormatError(
        path, f"unknown format (first bytes {head[:4].hex()}); expected TIFF, PNG or JPEG"
    )


def read_capture(
    path: Path,
    *,
    pseudonym_key: bytes,
    limits: ReadLimits | None = None,
    wavelengths: Sequence[float] | None = None,
    metadata: dict[str, Any] | None = None,
    mask_path: Path | None = None,
) -> Capture:
    """Read, pseudonymise and validate one capture file. Raises :class:`CaptureError` subclasses."""
    path = Path(path)
    source = str(path)
    limits = limits or ReadLimits()
    limits.check_file(path)
    given = dict(metadata or {})
    extras = {k: given.pop(k) for k in _EXTRA_KEYS if k in given}
    scale = extras.get("reflectance_scale")
    scale = None if scale is None else parse_scale(scale, source)
    wl_arg = tuple(float(w) for w in wavelengths) if wavelengths is not None else None

    kind = sniff_format(path)
    if kind == "tiff":
        raw = read_tiff(
            path, limits=limits, n_wavelengths=len(wl_arg) if wl_arg else None, scale=scale
        )
    else:
        raw = read_photo(path, limits=limits)
        if scale is not None:
            raw.cube *= np.float32(255.0 / scale)

    raw.wavelengths = _wavelengths(raw.wavelengths, wl_arg, source)
    if "spacing_mm" in extras:
        raw.spacing_mm = _float_or_none(extras["spacing_mm"], "spacing_mm", source)
    if isinstance(extras.get("reference"), dict):
        raw.reference = {**raw.reference, **extras["reference"]}
    if mask_path is not None:
        try:
            mask = read_mask(Path(mask_path), raw.cube.shape[1:], limits=limits)
        except CaptureError as exc:  # name the capture file too, not only its mask
            raise type(exc)(source, f"mask {exc.source}: {exc.problem}") from None
        old = raw.truth.arrays() if raw.truth is not None else {}
        raw.truth = GroundTruth(**{**old, "wound_mask": mask})
    meta = _metadata(raw, given, path, pseudonym_key)
    try:
        capture = Capture(
            cube=raw.cube,
            wavelengths=raw.wavelengths,
            metadata=CaptureMetadata.model_validate(meta),
            spacing_mm=raw.spacing_mm,
            reference=ReferenceData.model_validate(raw.reference),
            truth=raw.truth,
        )
    except ValidationError as exc:
        raise MetadataError(source, describe_validation_error(exc)) from None
    return capture.validate(source, max_pixels=limits.max_pixels)


def _wavelengths(
    found: tuple[float, ...] | None, given: tuple[float, ...] | None, source: str
) -> tuple[float, ...]:
    if found is None and given is None:
        raise MetadataError(
            source, "no wavelengths in the file; pass wavelengths=[...] (nm, one per band)"
        )
    if found is not None and given is not None and wavelength_mismatch(found, given) is not None:
        raise BandMismatchError(
            source, f"file says wavelengths {list(found)} nm but {list(given)} were given"
        )
    return found if found is not None else given  # type: ignore[return-value]


def _float_or_none(value: Any, name: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise MetadataError(source, f"metadata field '{name}' must be a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise MetadataError(source, f"metadata field '{name}' must be a number") from None


def _metadata(raw: RawCapture, given: dict[str, Any], path: Path, key: bytes) -> dict[str, Any]:
    """File metadata + arguments, with a pseudonymised subject and a capture time."""
    source = str(path)
    meta = {**raw.metadata, **given}
    subject = meta.get("subject")
    if subject is None or (isinstance(subject, str) and not subject.strip()):
        raise MetadataError(
            source,
            "metadata field 'subject' missing: the file names none; pass metadata={'subject': ...}",
        )
    wound = meta.get("wound_id", "w1")
    for name, value in (("subject", subject), ("wound_id", wound)):
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise MetadataError(source, f"metadata field '{name}' must be a string")
    try:  # keyed pseudonyms; the raw values are never echoed (docs/storage.md)
        meta["subject"] = pseudonymise(str(subject), key)
    except ValueError as exc:
        raise MetadataError(source, f"metadata field 'subject': {exc}") from None
    try:
        meta["wound_id"] = pseudonymise_wound(str(wound), meta["subject"], key)
    except ValueError as exc:
        raise MetadataError(source, f"metadata field 'wound_id': {exc}") from None
    if meta.get("captured_at") is None:
        when = raw.timestamp
        if when is None:  # not part of the capture's identity (a copy has another mtime)
            try:
                when = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except (OSError, OverflowError, ValueError) as exc:
                raise UnreadableFileError(source, f"cannot stat: {exc}") from None
            meta["captured_at_source"] = "file_mtime"
        meta["captured_at"] = when
    return meta


__all__ = ["CaptureError", "read_capture", "sniff_format"]
