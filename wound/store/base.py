"""The capture store interface. Two backends: ``LocalStore`` (folder + SQLite), ``AwsStore``.

Semantics (docs/storage.md): objects first, record last; conditional writes (a record is never
silently overwritten; the same capture ingested twice is one capture); SHA-256 of every object on
its record, verified on read; no patient identifier in any key.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, NamedTuple, Self

import numpy as np

from wound.capture import Capture
from wound.store.records import (
    AnnotationRecord,
    CaptureRecord,
    LabelStatus,
    ModelRecord,
    Page,
    PredictionRecord,
)


class PutResult(NamedTuple):
    """What put_capture did: ``created`` is False when the capture was already stored."""

    capture_id: str
    created: bool


class PreparedCapture(NamedTuple):
    """A capture ready to commit (:meth:`CaptureStore.prepare_capture`): its id, content
    digest, record item and objects' bytes, computed without touching the store."""

    capture_id: str
    digest: str
    item: dict[str, Any]
    objects: dict[str, bytes]


class CaptureStore(ABC):
    """What every backend offers. All methods raise :class:`wound.errors.StoreError` subclasses."""

    # --- lifecycle --------------------------------------------------------------------------
    @abstractmethod
    def init(self) -> None:
        """Create bucket/tables/folders (idempotent)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (SQLite file, HTTP pools). The store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- captures ---------------------------------------------------------------------------
    @abstractmethod
    def put_capture(self, capture: Capture, *, preview_png: bytes | None = None) -> PutResult:
        """Store cube, preview, truth and the record. Idempotent on ``capture.identity()``."""

    @abstractmethod
    def prepare_capture(
        self, capture: Capture, *, preview_png: bytes | None = None
    ) -> PreparedCapture:
        """:meth:`put_capture` in two steps, the CPU work first (id, validation, TIFF and
        preview encoding, checksums) and no I/O, so a caller can schedule it away from other
        work; :meth:`commit_capture` then writes (same outcome as ``put_capture``)."""

    @abstractmethod
    def commit_capture(self, prepared: PreparedCapture) -> PutResult:
        """Write a prepared capture: objects first, record last; idempotent, conflicts raise."""

    @abstractmethod
    def get_record(self, capture_id: str) -> CaptureRecord: ...

    @abstractmethod
    def get_capture(self, capture_id: str) -> Capture:
        """The capture with its cube (checksum verified) and ground truth when stored."""

    @abstractmethod
    def get_preview(self, capture_id: str) -> bytes: ...

    @abstractmethod
    def list_captures(
        self,
        *,
        subject: str | None = None,
        wound_id: str | None = None,
        label_status: LabelStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Captures, oldest first by captured_at (filtered by subject[/wound] or status)."""

    def iter_captures(self, **filters: Any) -> Iterator[CaptureRecord]:
        cursor: str | None = None
        while True:
            page = self.list_captures(cursor=cursor, **filters)
            yield from page.items
            if not page.cursor:
                return
            cursor = page.cursor

    @abstractmethod
    def set_label_status(
        self, capture_id: str, status: LabelStatus, *, expected: LabelStatus | None = None
    ) -> None: ...

    @abstractmethod
    def set_quality(self, capture_id: str, quality: dict[str, Any]) -> None:
        """Record the latest input-quality verdict on the capture record."""

    # --- annotations ------------------------------------------------------------------------
    @abstractmethod
    def add_annotation(
        self,
        capture_id: str,
        mask: np.ndarray,
        *,
        task: str,
        annotator: str,
        source: str,
        extra: dict[str, Any] | None = None,
    ) -> AnnotationRecord:
        """Append the next version (1, 2, ...) of an annotation mask (uint8 H x W)."""

    @abstractmethod
    def list_annotations(
        self, capture_id: str, *, task: str | None = None
    ) -> list[AnnotationRecord]: ...

    @abstractmethod
    def get_annotation(
        self, capture_id: str, version: int | None = None, *, task: str | None = None
    ) -> tuple[AnnotationRecord, np.ndarray]:
        """A version (latest when None) and its mask."""

    # --- predictions ------------------------------------------------------------------------
    @abstractmethod
    def put_prediction(
        self,
        capture_id: str,
        model_id: str,
        *,
        status: str,
        score: dict[str, Any],
        arrays: dict[str, np.ndarray] | None = None,
    ) -> PredictionRecord:
        """Store one prediction per (capture, model); raises RecordExistsError if present
        unless ``replace`` semantics are asked for by deleting first."""

    @abstractmethod
    def get_prediction(
        self, capture_id: str, model_id: str | None = None, *, with_arrays: bool = True
    ) -> tuple[PredictionRecord, dict[str, np.ndarray]]:
        """The prediction of a model (latest when None)."""

    @abstractmethod
    def list_predictions(self, capture_id: str | None = None) -> list[PredictionRecord]: ...

    @abstractmethod
    def delete_prediction(self, capture_id: str, model_id: str) -> None: ...

    # --- models -----------------------------------------------------------------------------
    @abstractmethod
    def put_model(
        self, model_id: str, files: dict[str, bytes], *, task: str, info: dict[str, Any]
    ) -> ModelRecord: ...

    @abstractmethod
    def get_model(self, model_id: str | None = None, *, task: str | None = None) -> ModelRecord:
        """A model record (latest registered, of ``task`` when given, when ``model_id`` is None)."""

    @abstractmethod
    def get_model_file(self, model_id: str, name: str) -> bytes: ...

    @abstractmethod
    def add_model_file(self, model_id: str, name: str, data: bytes) -> bytes:
        """Add a derived file (e.g. a cached ONNX export) to a registered model; the stored
        bytes. The first writer wins: when the model already has ``name``, its bytes are
        returned unchanged (registered files are never replaced)."""

    @abstractmethod
    def list_models(self) -> list[ModelRecord]: ...

    # --- integrity --------------------------------------------------------------------------
    @abstractmethod
    def check(
        self, *, repair: bool = False, hash_sample: int | None = None, temp_grace_s: float = ...
    ) -> dict[str, list[str]]:
        """Find orphan objects, records without objects, checksum mismatches; repair safely.
        ``hash_sample``: recompute SHA-256 for that many random objects, not all (sizes are
        compared for all). ``temp_grace_s``: a partial write (temp file) untouched this long
        is an orphan.

        Returns ``{"orphans": [...], "missing": [...], "mismatched": [...], "repaired": [...]}``.
        """
