"""Multispectral wound imaging: the core library (captures, I/O, phantom, store, scoring)."""

from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.errors import CaptureError, StoreError

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureMetadata",
    "GroundTruth",
    "ReferenceData",
    "StoreError",
]
