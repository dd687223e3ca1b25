"""Typed records the capture store returns (one per capture, annotation, prediction, model)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

LabelStatus = Literal["unlabelled", "queued", "in_progress", "labelled"]


class ObjectRef(BaseModel):
    """An object in the store: key, size and the SHA-256 verified on every read."""

    model_config = ConfigDict(frozen=True)

    key: str
    sha256: str
    size: int


class CaptureRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    capture_id: str
    subject: str
    wound_id: str
    wound_type: str
    captured_at: datetime
    created_at: datetime
    shape: tuple[int, int, int]  # bands, height, width
    wavelengths_nm: tuple[float, ...]
    spacing_mm: float | None
    label_status: LabelStatus = "unlabelled"
    header: dict[str, Any]  # Capture.header(): metadata + reference, JSON-ready
    cube: ObjectRef
    preview: ObjectRef
    truth: ObjectRef | None = None  # phantom / imported ground-truth masks (npz)
    quality: dict[str, Any] | None = None  # latest input-quality verdict (issue 4)
    content_sha256: str | None = None  # Capture.content_digest(); None in older records


class AnnotationRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    capture_id: str
    version: int  # 1, 2, 3 ... appended, never overwritten
    task: str  # "burn-depth" | "healing" | "wound-mask"
    annotator: str  # pseudonymous annotator id (Label Studio user id / e-mail hash)
    source: str  # "label-studio", "phantom", "import", ...
    created_at: datetime
    mask: ObjectRef  # PNG, uint8 class ids
    extra: dict[str, Any] = {}


class PredictionRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    capture_id: str
    model_id: str
    created_at: datetime
    status: Literal["scored", "refused"]
    arrays: ObjectRef | None  # npz of maps (depth, healing probability, uncertainty)
    score: dict[str, Any]  # the wound score or the refusal (reasons)


class ModelRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str
    created_at: datetime
    task: str
    files: dict[str, ObjectRef]  # name -> object (weights.pt, config.yaml, metrics.json, ...)
    info: dict[str, Any]  # wavelengths, metrics headline, manifest summary, ...


class Page(BaseModel):
    """One page of a query; pass ``cursor`` back to get the next."""

    items: list[Any]
    cursor: str | None = None
