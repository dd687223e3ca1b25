"""The capture: a reflectance cube with wavelengths, spacing, metadata and reference data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wound.errors import (
    BandMismatchError,
    DimensionLimitError,
    MetadataError,
    NonFiniteValuesError,
    NotReflectanceError,
)

WoundType = Literal["burn", "dfu", "other"]
#: Longest identifier (capture, device, wound, subject, source) and free-text field accepted.
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 10_000
#: Capture times outside these years are refused (device clocks reset to year 1, typos).
YEARS = (1900, 2200)
#: Reflectance plausibility (docs/storage.md): 1st/99th percentiles and absolute bounds.
REFLECTANCE_P1_MIN, REFLECTANCE_P99_MAX = -0.1, 2.0
REFLECTANCE_ABS_MAX = 1000.0
_SAMPLE = 65_536
_ID_DOMAIN = b"wound-capture-id\x00"


def check_id(value: str, what: str = "identifier") -> str:
    """An identifier: 1-128 printable characters (no control characters, no lone surrogates,
    no line breaks), no leading or trailing space. Raises ``ValueError`` without echoing it."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string")
    if not 1 <= len(value) <= MAX_ID_CHARS or not value.isprintable() or value != value.strip():
        raise ValueError(
            f"{what} must be 1-{MAX_ID_CHARS} printable characters without control characters "
            "or leading/trailing spaces"
        )
    return value


def check_text(value: str, what: str = "text") -> str:
    """Free text: printable characters plus tab/line breaks, at most 10 000 characters."""
    if (
        len(value) > MAX_TEXT_CHARS
        or not value.replace("\n", "").replace("\t", "").replace("\r", "").isprintable()
    ):
        raise ValueError(
            f"{what} must be at most {MAX_TEXT_CHARS} printable characters (tabs and line "
            "breaks allowed)"
        )
    return value


class CaptureMetadata(BaseModel):
    """Who, where and when. ``subject`` is always a pseudonym (see :mod:`wound.pseudonym`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    capture_id: str | None = Field(
        None,
        description="The device's own capture id, when it has one: kept in the record only, "
        "never in a key (the platform's id is :meth:`Capture.identity`).",
    )
    subject: str = Field(..., description="Subject pseudonym (keyed HMAC), never a real id.")
    wound_id: str = Field("w1", description="Which wound of the subject (pseudonymised on read).")
    anatomical_site: str | None = None
    wound_type: WoundType = "burn"
    captured_at: datetime
    captured_at_source: Literal["file_mtime"] | None = Field(
        None,
        description="'file_mtime' when nothing but the file's modification time gave "
        "captured_at (then it is not part of the capture's identity).",
    )
    device_id: str | None = None
    days_since_injury: float | None = Field(None, ge=0, le=36_500)
    fitzpatrick: int | None = Field(None, ge=1, le=6, description="Skin type I-VI, when known.")
    melanin_fraction: float | None = Field(None, ge=0, le=1)
    source: str | None = Field(
        None, description="Where the capture came from (device, phantom, ...)."
    )
    visit: int | None = Field(None, ge=1, description="Visit number of a series (1 = first).")
    days_since_first_visit: float | None = Field(
        None, ge=0, le=36_500, description="Days from the wound's first visit to this capture."
    )

    @field_validator("capture_id", "subject", "wound_id", "anatomical_site", "device_id", "source")
    @classmethod
    def _printable(cls, v: str | None) -> str | None:
        return None if v is None else check_id(v, "the value")

    @field_validator("captured_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("captured_at needs a time zone (UTC, e.g. 2026-01-31T10:00:00Z)")
        try:
            utc = v.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not YEARS[0] <= utc.year < YEARS[1]:
            raise ValueError(f"captured_at must lie in the years {YEARS[0]}-{YEARS[1] - 1}")
        return utc


class ReferenceData(BaseModel):
    """Clinical reference data recorded beside a capture (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    biopsy_depth_class: int | None = Field(None, ge=0, le=5)
    clinician_assessment: str | None = None
    healed_within_21_days: bool | None = None
    percent_area_reduction_4w: float | None = Field(None, ge=-1000, le=100)
    healed_by_12_weeks: bool | None = Field(
        None, description="Ulcer fully re-epithelialised by week 12 after the first visit."
    )
    notes: str | None = None

    @field_validator("clinician_assessment", "notes")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        return None if v is None else check_text(v, "the text")


@dataclass(frozen=True)
class GroundTruth:
    """Per-pixel truth: from the phantom, or from mask files given at import."""

    depth: np.ndarray | None = None  # uint8 H x W, DepthClass ids
    healing: np.ndarray | None = None  # uint8 H x W, 1 = heals within 21 days
    wound_mask: np.ndarray | None = None  # uint8 H x W, 1 = wound

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Capture:
    """A reflectance cube ``C x H x W`` (float32) and everything known about it."""

    cube: np.ndarray
    wavelengths: tuple[float, ...]
    metadata: CaptureMetadata
    spacing_mm: float | None = None
    reference: ReferenceData = field(default_factory=lambda: ReferenceData())
    truth: GroundTruth | None = None

    def __post_init__(self) -> None:
        # Wavelengths are floats everywhere, so identity() is stable across save and reload.
        object.__setattr__(self, "wavelengths", tuple(float(w) for w in self.wavelengths))

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.cube.shape
        return int(c), int(h), int(w)

    def validate(self, source: str | None = None, *, max_pixels: int = 64_000_000) -> Capture:
        """Check the invariants; raise a :class:`CaptureError` subclass naming ``source``."""
        cube = self.cube
        if cube.ndim != 3:
            raise BandMismatchError(
                source, f"cube must be bands x height x width, got {cube.shape}"
            )
        c, h, w = cube.shape
        if min(c, h, w) < 1 or h * w > max_pixels:
            raise DimensionLimitError(source, f"dimensions {h}x{w} outside 1..{max_pixels} pixels")
        if cube.dtype != np.float32:
            raise BandMismatchError(source, f"cube must be float32 reflectance, got {cube.dtype}")
        check_wavelengths(self.wavelengths, c, source)
        if self.spacing_mm is not None and not (0 < self.spacing_mm < 100):
            raise MetadataError(source, f"pixel spacing {self.spacing_mm} mm is not plausible")
        if not np.isfinite(cube).all():
            bad = int((~np.isfinite(cube)).sum())
            raise NonFiniteValuesError(source, f"{bad} non-finite values (NaN/inf) in the cube")
        check_reflectance(cube, source)
        if self.truth is not None:
            for name, arr in self.truth.arrays().items():
                if arr.shape != (h, w):
                    raise MetadataError(source, f"{name} mask {arr.shape} does not match {h}x{w}")
        return self

    def identity(self) -> str:
        """The platform's capture id, ``cap-`` + 32 hex digits: a hash of the device's capture id
        when it has one, else of cube and header (without a capture time that only the file's
        modification time gave). Never the device id itself (docs/storage.md)."""
        return self.identity_and_digest()[0]

    def content_digest(self) -> str:
        """SHA-256 of everything stored (cube, header, truth masks), without a capture time
        taken from the file's modification time: equal for the same capture read twice."""
        return self.identity_and_digest()[1]

    def identity_and_digest(self) -> tuple[str, str]:
        """:meth:`identity` and :meth:`content_digest` with one pass over the cube."""
        cube = hashlib.sha256(np.ascontiguousarray(self.cube).data).digest()
        header = self.header()
        if self.metadata.captured_at_source == "file_mtime":
            header["metadata"].pop("captured_at")
        text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
        content = hashlib.sha256(cube + text)
        full = content.copy()
        for name, array in sorted(self.truth.arrays().items()) if self.truth else ():
            full.update(f"{name}{array.shape}".encode())
            full.update(np.ascontiguousarray(array, dtype=np.uint8).data)
        if self.metadata.capture_id:
            identity = platform_capture_id(self.metadata.capture_id)
        else:
            identity = "cap-" + content.hexdigest()[:32]
        return identity, full.hexdigest()

    def header(self) -> dict[str, Any]:
        """Everything but the pixels, JSON-ready."""
        return {
            "wavelengths_nm": list(self.wavelengths),
            "spacing_mm": self.spacing_mm,
            "metadata": self.metadata.model_dump(mode="json"),
            "reference": self.reference.model_dump(mode="json"),
        }

    def header_json(self) -> str:
        return json.dumps(self.header(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_header(
        cls,
        header: dict[str, Any],
        cube: np.ndarray,
        truth: GroundTruth | None = None,
    ) -> Capture:
        """Inverse of :meth:`header` (pydantic validation errors propagate)."""
        return cls(
            cube=cube,
            wavelengths=tuple(float(x) for x in header["wavelengths_nm"]),
            spacing_mm=header.get("spacing_mm"),
            metadata=CaptureMetadata.model_validate(header["metadata"]),
            reference=ReferenceData.model_validate(header.get("reference") or {}),
            truth=truth,
        )


def check_wavelengths(wavelengths: tuple[float, ...], bands: int, source: str | None) -> None:
    """One wavelength per band, finite, plausible (200-2500 nm), strictly increasing."""
    if len(wavelengths) != bands:
        raise BandMismatchError(
            source, f"{bands} bands in the cube but {len(wavelengths)} wavelengths given"
        )
    arr = np.asarray(wavelengths, dtype=float)
    if not np.isfinite(arr).all() or (arr < 200).any() or (arr > 2500).any():
        raise BandMismatchError(source, f"wavelengths {list(wavelengths)} outside 200-2500 nm")
    if (np.diff(arr) <= 0).any():
        raise BandMismatchError(source, f"wavelengths {list(wavelengths)} not strictly increasing")


def platform_capture_id(device_capture_id: str) -> str:
    """The platform's id of a capture whose device gave it ``device_capture_id``."""
    digest = hashlib.sha256(_ID_DOMAIN + device_capture_id.encode("utf-8", "surrogatepass"))
    return "cap-" + digest.hexdigest()[:32]


def check_reflectance(cube: np.ndarray, source: str | None) -> None:
    """Refuse data that cannot be reflectance: constant (all zero, ...), strongly negative,
    far above 1 (raw counts without a ``reflectance_scale``), or absurdly large anywhere."""
    lo, hi = float(cube.min()), float(cube.max())
    if lo == hi:
        raise NotReflectanceError(
            source, f"every value is {lo:.3g}: a blank image, not reflectance"
        )
    flat = cube.reshape(-1)
    sample = np.asarray(flat[:: max(1, flat.size // _SAMPLE)], dtype=np.float64)
    p1, p99 = (float(v) for v in np.percentile(sample, (1.0, 99.0)))
    if p99 > REFLECTANCE_P99_MAX:
        raise NotReflectanceError(
            source,
            f"99th percentile {p99:.3g} is far above reflectance 1: raw counts? "
            "give the divisor as reflectance_scale",
        )
    if p1 < REFLECTANCE_P1_MIN:
        raise NotReflectanceError(
            source, f"1st percentile {p1:.3g} is negative: not reflectance (expected about 0-1)"
        )
    if max(-lo, hi) > REFLECTANCE_ABS_MAX:
        raise NotReflectanceError(
            source, f"values from {lo:.3g} to {hi:.3g}: not reflectance (expected about 0-1)"
        )


def utcnow() -> datetime:
    return datetime.now(UTC)
