"""Error types. Every message names the file (or record) and the problem."""

from __future__ import annotations

from pathlib import Path


class WoundError(Exception):
    """Base class of every error the platform raises on purpose."""


class CaptureError(WoundError):
    """A capture could not be read or is not valid. ``source`` names the file."""

    def __init__(self, source: str | Path | None, problem: str) -> None:
        self.source = str(source) if source is not None else None
        self.problem = problem
        where = f"{self.source}: " if self.source else ""
        super().__init__(f"{where}{problem}")


class UnreadableFileError(CaptureError):
    """Truncated, corrupt, or not a format we read."""


class UnsupportedFormatError(CaptureError):
    """A file type or layout the readers do not handle."""


class BandMismatchError(CaptureError):
    """Band count disagrees with the wavelengths, or wavelengths are not valid."""


class NonFiniteValuesError(CaptureError):
    """NaN or infinite values in the cube."""


class NotReflectanceError(CaptureError):
    """Values that cannot be reflectance (constant, negative, raw counts far above 1)."""


class DimensionLimitError(CaptureError):
    """Dimensions absurd or beyond the configured limits (decompression-bomb guard)."""


class MetadataError(CaptureError):
    """Required metadata missing or invalid."""


class StoreError(WoundError):
    """The capture store refused or failed an operation."""


class RecordExistsError(StoreError):
    """A conditional write found a record already there."""


class CaptureConflictError(StoreError):
    """A capture with the same id but different content is already stored."""


class RecordNotFoundError(StoreError):
    """No record with that key."""


class IntegrityError(StoreError):
    """An object's SHA-256 does not match its record, or the object is missing."""
