"""What a format reader hands back before metadata is merged, pseudonymised and validated."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from wound.capture import GroundTruth
from wound.errors import MetadataError

#: Field names shown in error messages; any other name is not echoed (it may be any text).
_SAFE_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
SCALE_RANGE = (1e-3, 1e9)


@dataclass
class RawCapture:
    """A decoded cube (float32 C x H x W) and whatever the file said about it."""

    cube: np.ndarray
    wavelengths: tuple[float, ...] | None = None
    spacing_mm: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] = field(default_factory=dict)
    truth: GroundTruth | None = None
    timestamp: datetime | None = None  # from EXIF / TIFF DateTime: used when nothing better


def describe_validation_error(exc: Exception) -> str:
    """A pydantic ``ValidationError`` as one readable line naming each bad field."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for err in errors():
        names = [str(p) for p in err.get("loc", ())]
        safe = all(isinstance(p, int) or _SAFE_FIELD.fullmatch(p) for p in names)
        where = ".".join(names) if safe else "(a field whose name is not shown)"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "required field missing"
        elif err.get("type") == "extra_forbidden":
            msg = "not a known field"
        parts.append(f"metadata field '{where or 'value'}': {msg}")
    return "; ".join(parts) or "invalid metadata"


def parse_scale(value: Any, source: str) -> float:
    """A ``reflectance_scale`` (divisor): a finite number in 0.001-1e9 (a numeric string is
    read as its number; booleans, other strings and other types are refused by name)."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise MetadataError(source, "metadata field 'reflectance_scale' must be a number")
    if not SCALE_RANGE[0] <= number <= SCALE_RANGE[1]:
        raise MetadataError(
            source,
            f"metadata field 'reflectance_scale' {number:g} outside {SCALE_RANGE[0]:g}-"
            f"{SCALE_RANGE[1]:g} (the divisor that turns stored values into reflectance)",
        )
    return number
