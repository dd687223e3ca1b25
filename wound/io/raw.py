"""What a format reader hands back before metadata is merged, pseudonymised and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from wound.capture import GroundTruth


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
        where = ".".join(str(p) for p in err.get("loc", ())) or "value"
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "required field missing"
        parts.append(f"metadata field '{where}': {msg}")
    return "; ".join(parts) or str(exc)
