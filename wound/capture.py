"""The capture: a reflectance cube with wavelengths, spacing, metadata and reference data."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from wound.errors import BandMismatchError, DimensionLimitError, MetadataError, NonFiniteValuesError

CAPTURE_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
WoundType = Literal["burn", "dfu", "other"]


class CaptureMetadata(BaseModel):
    """Who, where and when. ``subject`` is always a pseudonym (see :mod:`wound.pseudonym`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    capture_id: str | None = Field(None, description="The device's capture id, when it has one.")
    subject: str = Field(..., description="Subject pseudonym (keyed HMAC), never a real id.")
    wound_id: str = Field("w1", description="Which wound of the subject.")
    anatomical_site: str | None = None
    wound_type: WoundType = "burn"
    captured_at: datetime
    device_id: str | None = None
    days_since_injury: float | None = Field(None, ge=0)
    fitzpatrick: int | None = Field(None, ge=1, le=6, description="Skin type I-VI, when known.")
    melanin_fraction: float | None = Field(None, ge=0, le=1)
    source: str | None = Field(
        None, description="Where the capture came from (device, phantom, ...)."
    )
    visit: int | None = Field(None, ge=1, description="Visit number of a series (1 = first).")
    days_since_first_visit: float | None = Field(
        None, ge=0, le=36_500, description="Days from the wound's first visit to this capture."
    )

    @field_validator("capture_id")
    @classmethod
    def _capture_id_safe(cls, v: str | None) -> str | None:
        if v is not None and not CAPTURE_ID_PATTERN.match(v):
            raise ValueError("capture_id must be 1-128 characters of [A-Za-z0-9._-]")
        return v

    @field_validator("captured_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("captured_at needs a time zone (UTC, e.g. 2026-01-31T10:00:00Z)")
        return v.astimezone(UTC)


class ReferenceData(BaseModel):
    """Clinical reference data recorded beside a capture (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    biopsy_depth_class: int | None = Field(None, ge=0, le=5)
    clinician_assessment: str | None = None
    healed_within_21_days: bool | None = None
    percent_area_reduction_4w: float | None = Field(None, le=100)
    healed_by_12_weeks: bool | None = Field(
        None, description="Ulcer fully re-epithelialised by week 12 after the first visit."
    )
    notes: str | None = None


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
        if self.truth is not None:
            for name, arr in self.truth.arrays().items():
                if arr.shape != (h, w):
                    raise MetadataError(source, f"{name} mask {arr.shape} does not match {h}x{w}")
        return self

    def identity(self) -> str:
        """The device's capture id, else the SHA-256 of cube and metadata (content identity)."""
        if self.metadata.capture_id:
            return self.metadata.capture_id
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.cube).tobytes())
        digest.update(self.header_json().encode())
        return "cap-" + digest.hexdigest()[:32]

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


def utcnow() -> datetime:
    return datetime.now(UTC)
