"""Annotations, predictions and models over the store primitives (completes the store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from wound.capture import utcnow
from wound.errors import RecordExistsError, RecordNotFoundError, StoreError
from wound.store import codec
from wound.store.codec import ANNOTATIONS, MODELS, PREDICTIONS
from wound.store.core import UPDATE_ATTEMPTS, CaptureCore, plain
from wound.store.records import AnnotationRecord, ModelRecord, ObjectRef, PredictionRecord

MAX_VERSION_TRIES = 1000


class PrimitiveStore(CaptureCore):
    """The complete :class:`~wound.store.base.CaptureStore` over the two primitives."""

    # --- annotations ----------------------------------------------------------------------
    def _mask(self, capture_id: str, mask: np.ndarray) -> np.ndarray:
        _, height, width = self.get_record(capture_id).shape
        array = np.asarray(mask)
        if array.shape != (height, width):
            raise StoreError(
                f"capture {capture_id}: annotation mask {array.shape} does not match the "
                f"capture's {height}x{width}"
            )
        if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
            raise StoreError(f"capture {capture_id}: annotation mask must hold class ids")
        if array.size and (array.min() < 0 or array.max() > 255):
            raise StoreError(f"capture {capture_id}: annotation class ids outside 0..255")
        return array.astype(np.uint8)

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
        codec.check_name(task, "task")
        png = codec.encode_mask_png(self._mask(capture_id, mask))
        latest = self.list_annotations(capture_id, task=task)
        version = latest[-1].version + 1 if latest else 1
        digest = codec.sha256(png)
        template = self._validated(
            f"annotation of capture {capture_id}",
            lambda: AnnotationRecord(
                capture_id=capture_id,
                version=version,
                task=task,
                annotator=annotator,
                source=source,
                created_at=utcnow(),
                mask=ObjectRef(key="", sha256=digest, size=len(png)),
                extra=plain(extra or {}),
            ),
        )
        for _ in range(MAX_VERSION_TRIES):
            key = codec.annotation_key(capture_id, task, version)
            # The object is created only where none is: a concurrent writer (or a crash's
            # orphan) holding this version makes us move on to the next one.
            if not self.objects.put(key, png, if_absent=True):
                version += 1
                continue
            mask_ref = ObjectRef(key=key, sha256=digest, size=len(png))
            record = template.model_copy(
                update={"version": version, "created_at": utcnow(), "mask": mask_ref}
            )
            item = {
                "capture_id": capture_id,
                "task_version": codec.task_version(task, version),
                "body": record.model_dump_json(),
                "rev": 0,
            }
            try:
                self.records.put_if_absent(ANNOTATIONS, item)
                return record
            except RecordExistsError:
                stored = self.records.get(ANNOTATIONS, ANNOTATIONS.key_of(item))
                if stored is not None and stored["body"] == item["body"]:
                    return record  # ours: applied, its answer lost, found by the retry
                self.objects.delete(key)  # a record whose object was missing: leave it so
                version += 1
        raise StoreError(f"capture {capture_id}: no free annotation version for task {task}")

    def list_annotations(
        self, capture_id: str, *, task: str | None = None
    ) -> list[AnnotationRecord]:
        prefix = f"{codec.check_name(task, 'task')}#" if task is not None else None
        items, _ = self.records.query(ANNOTATIONS, capture_id, range_prefix=prefix)
        records = [AnnotationRecord.model_validate_json(item["body"]) for item in items]
        return sorted(records, key=lambda r: (r.task, r.version))

    def get_annotation(
        self, capture_id: str, version: int | None = None, *, task: str | None = None
    ) -> tuple[AnnotationRecord, np.ndarray]:
        records = self.list_annotations(capture_id, task=task)
        if version is not None:
            records = [r for r in records if r.version == version]
        if not records:
            what = f"version {version}" if version is not None else "annotation"
            raise RecordNotFoundError(f"capture {capture_id}: no {what} (task {task})")
        if version is not None and len(records) > 1:
            tasks = sorted(r.task for r in records)
            raise StoreError(f"capture {capture_id}: version {version} exists for {tasks}")
        record = max(records, key=lambda r: (r.created_at, r.version))
        return record, codec.decode_mask_png(self._read(record.mask), record.mask.key)

    # --- predictions ----------------------------------------------------------------------
    def put_prediction(
        self,
        capture_id: str,
        model_id: str,
        *,
        status: str,
        score: dict[str, Any],
        arrays: dict[str, np.ndarray] | None = None,
    ) -> PredictionRecord:
        codec.check_name(model_id, "model id")
        self.get_record(capture_id)
        key = {"capture_id": capture_id, "model_id": model_id}
        object_key = codec.prediction_key(capture_id, model_id)
        with self._lock(f"prediction:{capture_id}:{model_id}"):
            if self.records.get(PREDICTIONS, key) is not None:
                raise RecordExistsError(
                    f"prediction of model {model_id} for capture {capture_id} exists; "
                    "delete it first to recompute"
                )
            # Uncompressed: on the time-to-result path (zlib: ~250 ms for 1024 x 1280 maps).
            data = codec.encode_npz(arrays, compress=False) if arrays else None
            record = self._validated(
                f"prediction {object_key}",
                lambda: PredictionRecord(
                    capture_id=capture_id,
                    model_id=model_id,
                    created_at=utcnow(),
                    status=status,  # validated by pydantic
                    arrays=ObjectRef(key=object_key, sha256=codec.sha256(data), size=len(data))
                    if data is not None
                    else None,
                    score=plain(score),
                ),
            )
            if data is not None:
                self.objects.put(object_key, data)
            item = {**key, "body": record.model_dump_json(), "rev": 0}
            self.records.put_if_absent(PREDICTIONS, item)
        return record

    def get_prediction(
        self, capture_id: str, model_id: str | None = None, *, with_arrays: bool = True
    ) -> tuple[PredictionRecord, dict[str, np.ndarray]]:
        if model_id is not None:
            item = self.records.get(PREDICTIONS, {"capture_id": capture_id, "model_id": model_id})
            items = [item] if item is not None else []
        else:
            items, _ = self.records.query(PREDICTIONS, capture_id)
        if not items:
            raise RecordNotFoundError(
                f"capture {capture_id}: no prediction"
                + (f" of model {model_id}" if model_id else "")
            )
        records = [PredictionRecord.model_validate_json(item["body"]) for item in items]
        record = max(records, key=lambda r: r.created_at)
        arrays: dict[str, np.ndarray] = {}
        if with_arrays and record.arrays is not None:
            arrays = codec.decode_npz(self._read(record.arrays), record.arrays.key)
        return record, arrays

    def list_predictions(self, capture_id: str | None = None) -> list[PredictionRecord]:
        if capture_id is not None:
            items, _ = self.records.query(PREDICTIONS, capture_id)
        else:
            items = list(self.records.scan(PREDICTIONS))
        records = [PredictionRecord.model_validate_json(item["body"]) for item in items]
        return sorted(records, key=lambda r: (r.capture_id, r.created_at, r.model_id))

    def delete_prediction(self, capture_id: str, model_id: str) -> None:
        record, _ = self.get_prediction(capture_id, model_id, with_arrays=False)
        # Record first, object last: a crash leaves an orphan, never a record without object.
        self.records.delete(PREDICTIONS, {"capture_id": capture_id, "model_id": model_id})
        if record.arrays is not None:
            self.objects.delete(record.arrays.key)

    # --- models ---------------------------------------------------------------------------
    def put_model(
        self, model_id: str, files: dict[str, bytes], *, task: str, info: dict[str, Any]
    ) -> ModelRecord:
        codec.check_name(model_id, "model id")
        codec.check_name(task, "task")
        if not files:
            raise StoreError(f"model {model_id}: no files to register")
        for name in files:
            codec.check_name(name, f"model {model_id} file name")
        details = plain(info)
        with self._lock(f"model:{model_id}"):
            if self.records.get(MODELS, {"model_id": model_id}) is not None:
                raise RecordExistsError(f"model {model_id} is already registered")
            refs = {
                name: self._put_object(codec.model_file_key(model_id, name), data)
                for name, data in files.items()
            }
            record = ModelRecord(
                model_id=model_id, created_at=utcnow(), task=task, files=refs, info=details
            )
            item = {
                "model_id": model_id,
                "kind": "model",
                "task": task,
                "sort": f"{codec.time_key(record.created_at)}#{model_id}",
                "body": record.model_dump_json(),
                "rev": 0,
            }
            self.records.put_if_absent(MODELS, item)
        return record

    def get_model(self, model_id: str | None = None, *, task: str | None = None) -> ModelRecord:
        if model_id is not None:
            item = self.records.get(MODELS, {"model_id": model_id})
            if item is None:
                raise RecordNotFoundError(f"model {model_id}: not registered")
            record = ModelRecord.model_validate_json(item["body"])
            if task is not None and record.task != task:
                raise StoreError(f"model {model_id} is a {record.task} model, not {task}")
            return record
        index, value = ("task", task) if task is not None else ("all", "model")
        items, _ = self.records.query(MODELS, value, index=index, descending=True, limit=1)
        if not items:
            raise RecordNotFoundError("no model registered" + (f" for task {task}" if task else ""))
        return ModelRecord.model_validate_json(items[0]["body"])

    def get_model_file(self, model_id: str, name: str) -> bytes:
        record = self.get_model(model_id)
        if name not in record.files:
            raise RecordNotFoundError(
                f"model {model_id}: no file {name!r} (has {sorted(record.files)})"
            )
        return self._read(record.files[name])

    def add_model_file(self, model_id: str, name: str, data: bytes) -> bytes:
        codec.check_name(name, f"model {model_id} file name")
        digest = codec.sha256(data)
        # Content-addressed key: racing writers of other bytes never overwrite an object a
        # record already refers to (the loser's object is an orphan `check --repair` removes).
        key = codec.model_file_key(model_id, f"{digest[:16]}-{name}")
        ref: ObjectRef | None = None
        with self._lock(f"model:{model_id}"):
            for _ in range(UPDATE_ATTEMPTS):
                item = self.records.get(MODELS, {"model_id": model_id})
                if item is None:
                    raise RecordNotFoundError(f"model {model_id}: not registered")
                record = ModelRecord.model_validate_json(item["body"])
                if name in record.files:  # first writer wins
                    return self._read(record.files[name])
                if ref is None:  # objects first, record last
                    ref = self._put_object(key, data)
                new = record.model_copy(update={"files": {**record.files, name: ref}})
                changed = {**item, "body": new.model_dump_json(), "rev": item["rev"] + 1}
                if self.records.replace(MODELS, changed, rev=item["rev"]):
                    return data
        raise StoreError(f"model {model_id}: record kept changing; {name} not added")

    def list_models(self) -> list[ModelRecord]:
        records = [ModelRecord.model_validate_json(i["body"]) for i in self.records.scan(MODELS)]
        return sorted(records, key=lambda r: (r.created_at, r.model_id))

    # --- integrity ------------------------------------------------------------------------
    def _other_refs(self) -> Iterator[ObjectRef]:
        for item in self.records.scan(ANNOTATIONS):
            yield AnnotationRecord.model_validate_json(item["body"]).mask
        for item in self.records.scan(PREDICTIONS):
            arrays = PredictionRecord.model_validate_json(item["body"]).arrays
            if arrays is not None:
                yield arrays
        for item in self.records.scan(MODELS):
            yield from ModelRecord.model_validate_json(item["body"]).files.values()
