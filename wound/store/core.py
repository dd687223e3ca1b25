"""The capture-store semantics, written once over an object store and a record store.

Objects first, record last (a crash leaves at worst an orphan object, which :meth:`check` finds);
records are created only by conditional puts and changed only by revision-checked replaces.
Backends (:mod:`wound.store.local`, :mod:`wound.store.aws`) only supply the two primitives.
"""

from __future__ import annotations

import contextlib
import json
import random
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, get_args

import numpy as np
from pydantic import ValidationError

from wound.capture import Capture, GroundTruth, utcnow
from wound.errors import (
    CaptureConflictError,
    CaptureError,
    IntegrityError,
    RecordExistsError,
    RecordNotFoundError,
    StoreError,
)
from wound.io import decode_capture_tiff, encode_capture_tiff, render_preview
from wound.pseudonym import is_pseudonym
from wound.store import codec
from wound.store.base import CaptureStore, PreparedCapture, PutResult
from wound.store.codec import CAPTURES, TABLES
from wound.store.primitives import Item, ObjectStore, RecordStore
from wound.store.records import CaptureRecord, LabelStatus, ObjectRef, Page

T = TypeVar("T")
UPDATE_ATTEMPTS = 50
#: A temp file untouched this long belongs to a killed writer (a live one renames it in seconds).
TEMP_GRACE_S = 3600.0
_TRUTH_FIELDS = ("depth", "healing", "wound_mask")


def plain(value: Any) -> Any:
    """JSON-ready copy of ``value`` (numpy scalars and arrays become Python numbers/lists)."""

    def default(obj: Any) -> Any:
        if isinstance(obj, np.generic | np.ndarray):
            return obj.tolist()
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")

    try:
        return json.loads(json.dumps(value, default=default))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"value cannot be stored as JSON: {exc}") from exc


class CaptureCore(CaptureStore):
    """Shared helpers, captures and :meth:`check` over an :class:`ObjectStore` and a
    :class:`RecordStore` (annotations, predictions and models: :mod:`wound.store.artifacts`).
    Thread-safe when the primitives are."""

    def __init__(self, objects: ObjectStore, records: RecordStore) -> None:
        self.objects = objects
        self.records = records
        self._stripes = [threading.Lock() for _ in range(64)]

    # --- shared helpers -------------------------------------------------------------------
    def init(self) -> None:
        self.objects.init()
        self.records.init(TABLES)

    def close(self) -> None:
        """Release connections held by the primitives."""
        self.objects.close()
        self.records.close()

    def _lock(self, name: str) -> threading.Lock:
        """An in-process lock for one id (striped), so racing threads do not both upload."""
        return self._stripes[hash(name) % len(self._stripes)]

    def _put_object(self, key: str, data: bytes) -> ObjectRef:
        self.objects.put(key, data)
        return ObjectRef(key=key, sha256=codec.sha256(data), size=len(data))

    def _read(self, ref: ObjectRef) -> bytes:
        """The object's bytes, verified against the SHA-256 on its record."""
        data = self.objects.get(ref.key)
        if data is None:
            raise IntegrityError(f"{ref.key}: object is missing (its record expects it)")
        digest = codec.sha256(data)
        if digest != ref.sha256:
            raise IntegrityError(
                f"{ref.key}: SHA-256 {digest[:16]}... does not match the record's "
                f"{ref.sha256[:16]}... (object changed or corrupt)"
            )
        return data

    # --- captures -------------------------------------------------------------------------
    @staticmethod
    def _capture_item(record: CaptureRecord, rev: int) -> Item:
        return {
            "capture_id": record.capture_id,
            "kind": "capture",
            "subject": record.subject,
            "subject_wound": codec.subject_wound(record.subject, record.wound_id),
            "label_status": record.label_status,
            "sort": f"{codec.time_key(record.captured_at)}#{record.capture_id}",
            "body": record.model_dump_json(),
            "rev": rev,
        }

    def _capture_item_of(self, capture_id: str) -> Item:
        item = self.records.get(CAPTURES, {"capture_id": capture_id})
        if item is None:
            raise RecordNotFoundError(f"capture {capture_id}: no such capture in the store")
        return item

    def put_capture(self, capture: Capture, *, preview_png: bytes | None = None) -> PutResult:
        """Validate and serialise everything first, then objects, then the record (one
        conditional write). The same content again is ``created=False``; the same id with
        other content raises :class:`CaptureConflictError` and writes nothing."""
        capture_id, digest = self._identify(capture)
        existing = self.records.get(CAPTURES, {"capture_id": capture_id})
        if existing is not None:  # stored already: nothing to encode
            with self._lock(f"capture:{capture_id}"):
                result = self._same_capture(existing, capture_id, digest)
                self._sweep(capture_id, existing)
                return result
        return self.commit_capture(self._prepared(capture, capture_id, digest, preview_png))

    def prepare_capture(
        self, capture: Capture, *, preview_png: bytes | None = None
    ) -> PreparedCapture:
        capture_id, digest = self._identify(capture)
        return self._prepared(capture, capture_id, digest, preview_png)

    def commit_capture(self, prepared: PreparedCapture) -> PutResult:
        capture_id, digest, item, objects = prepared
        key = {"capture_id": capture_id}
        with self._lock(f"capture:{capture_id}"):
            existing = self.records.get(CAPTURES, key)
            if existing is not None:
                result = self._same_capture(existing, capture_id, digest)
                self._sweep(capture_id, existing)
                return result
            written: list[str] = []
            try:
                for object_key, data in objects.items():
                    written.append(object_key)
                    self.objects.put(object_key, data)
                self.records.put_if_absent(CAPTURES, item)
            except RecordExistsError:
                won = self.records.get(CAPTURES, key)
                if won is not None and won["body"] == item["body"]:
                    # Ours: the put was applied but its answer lost (a 5xx after the write),
                    # and botocore's retry found it there. Its objects are ours: keep them.
                    return PutResult(capture_id, True)
                self._discard(written)  # another process won the race: its objects are
                if won is None:  # under its own write token, ours go
                    raise
                return self._same_capture(won, capture_id, digest)
            except BaseException:
                self._discard(written)
                raise
            self._sweep(capture_id, item)
        return PutResult(capture_id, True)

    def _identify(self, capture: Capture) -> tuple[str, str]:
        """The capture's id and content digest, after the checks every stored capture passes."""
        identity, digest = capture.identity_and_digest()
        capture_id = codec.check_name(identity, "capture id")
        if not is_pseudonym(capture.metadata.subject):
            raise StoreError(
                f"capture {capture_id}: subject is not a pseudonym; pseudonymise it "
                "(wound.pseudonym) before storing - no patient id is stored"
            )
        try:
            capture.validate(capture_id)
        except CaptureError as exc:
            raise StoreError(f"capture refused: {exc}") from exc
        return capture_id, digest

    def _prepared(
        self, capture: Capture, capture_id: str, digest: str, preview_png: bytes | None
    ) -> PreparedCapture:
        record, objects = self._capture_record(capture, capture_id, digest, preview_png)
        try:
            item = self._capture_item(record, rev=0)
        except (TypeError, ValueError) as exc:  # e.g. text pydantic cannot serialise
            raise StoreError(f"capture {capture_id}: record cannot be stored ({exc})") from exc
        return PreparedCapture(capture_id, digest, item, objects)

    def _capture_record(
        self, capture: Capture, capture_id: str, digest: str, preview_png: bytes | None
    ) -> tuple[CaptureRecord, dict[str, bytes]]:
        """The record and its objects' bytes, built before anything is written."""
        meta = capture.metadata
        truth = capture.truth.arrays() if capture.truth is not None else {}
        token = secrets.token_hex(8)  # racing writers of one id never share an object key
        objects = {codec.cube_key(capture_id, token): encode_capture_tiff(capture)}
        objects[codec.preview_key(capture_id, token)] = (
            preview_png if preview_png is not None else render_preview(capture)
        )
        if truth:
            objects[codec.truth_key(capture_id, token)] = codec.encode_npz(truth)
        refs = [ObjectRef(key=k, sha256=codec.sha256(d), size=len(d)) for k, d in objects.items()]
        record = self._validated(
            f"capture {capture_id}",
            lambda: CaptureRecord(
                capture_id=capture_id,
                subject=meta.subject,
                wound_id=meta.wound_id,
                wound_type=meta.wound_type,
                captured_at=meta.captured_at,
                created_at=utcnow(),
                shape=capture.shape,
                wavelengths_nm=tuple(capture.wavelengths),
                spacing_mm=capture.spacing_mm,
                header=capture.header(),
                cube=refs[0],
                preview=refs[1],
                truth=refs[2] if truth else None,
                content_sha256=digest,
            ),
        )
        return record, objects

    @staticmethod
    def _stored_digest(item: Item) -> str | None:
        return CaptureRecord.model_validate_json(item["body"]).content_sha256

    def _same_capture(self, item: Item, capture_id: str, digest: str) -> PutResult:
        """Already stored: the same content is no change; other content is a conflict."""
        stored = self._stored_digest(item)
        if stored is not None and stored != digest:  # records before content digests: same
            raise CaptureConflictError(
                f"capture {capture_id}: a capture with the same device capture id but "
                "different content (pixels, metadata or masks) is already stored; not stored"
            )
        return PutResult(capture_id, False)

    def _discard(self, keys: list[str]) -> None:
        """Remove objects this call wrote (best effort; `check --repair` finds any left)."""
        for object_key in keys:
            with contextlib.suppress(StoreError, OSError):
                self.objects.delete(object_key)

    def _sweep(self, capture_id: str, item: Item) -> None:
        """Remove objects in the capture's folder that its record does not refer to: what a
        writer killed between its objects and its record left behind. Safe beside other
        writers: once the record exists, no other write of this id can create one, and each
        loser of the race discards its own objects anyway (docs/storage.md)."""
        record = CaptureRecord.model_validate_json(item["body"])
        keep = {ref.key for ref in (record.cube, record.preview, record.truth) if ref is not None}
        stray = [
            k for k in self.objects.list_keys(codec.capture_prefix(capture_id)) if k not in keep
        ]
        self._discard(stray)

    def get_record(self, capture_id: str) -> CaptureRecord:
        return CaptureRecord.model_validate_json(self._capture_item_of(capture_id)["body"])

    def get_capture(self, capture_id: str) -> Capture:
        record = self.get_record(capture_id)
        decoded = decode_capture_tiff(self._read(record.cube), record.cube.key)
        truth = None
        if record.truth is not None:
            arrays = codec.decode_npz(self._read(record.truth), record.truth.key)
            truth = GroundTruth(**{k: v for k, v in arrays.items() if k in _TRUTH_FIELDS})
        return Capture.from_header(record.header, decoded.cube, truth)

    def get_preview(self, capture_id: str) -> bytes:
        return self._read(self.get_record(capture_id).preview)

    def list_captures(
        self,
        *,
        subject: str | None = None,
        wound_id: str | None = None,
        label_status: LabelStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        if not 1 <= limit <= 1000:
            raise StoreError(f"limit {limit} outside 1..1000")
        if wound_id is not None and subject is None:
            raise StoreError("filtering by wound_id needs the subject too")
        if subject is not None and wound_id is not None:
            index, value = "subject_wound", codec.subject_wound(subject, wound_id)
        elif subject is not None:
            index, value = "subject", subject
        elif label_status is not None:
            index, value = "label_status", self._status(label_status)
        else:
            index, value = "all", "capture"
        where = None
        if subject is not None and label_status is not None:
            where = {"label_status": self._status(label_status)}
        query = f"{index}={value}" + (f"&{where}" if where else "")
        items, position = self.records.query(
            CAPTURES,
            value,
            index=index,
            where=where,
            limit=limit,
            start=codec.decode_cursor(query, cursor),
        )
        records = [CaptureRecord.model_validate_json(item["body"]) for item in items]
        return Page(items=records, cursor=codec.encode_cursor(query, position))

    @staticmethod
    def _status(status: str) -> str:
        if status not in get_args(LabelStatus):
            raise StoreError(f"label status {status!r} is not one of {get_args(LabelStatus)}")
        return status

    def _update_capture(
        self, capture_id: str, change: Callable[[CaptureRecord], CaptureRecord]
    ) -> CaptureRecord:
        """Read-change-replace, retried when another writer got in between."""
        for _ in range(UPDATE_ATTEMPTS):
            item = self._capture_item_of(capture_id)
            new = change(CaptureRecord.model_validate_json(item["body"]))
            if self.records.replace(
                CAPTURES, self._capture_item(new, item["rev"] + 1), rev=item["rev"]
            ):
                return new
        raise StoreError(f"capture {capture_id}: record kept changing; update not applied")

    def set_label_status(
        self, capture_id: str, status: LabelStatus, *, expected: LabelStatus | None = None
    ) -> None:
        self._status(status)

        def change(record: CaptureRecord) -> CaptureRecord:
            if expected is not None and record.label_status != expected:
                raise StoreError(
                    f"capture {capture_id}: label status is {record.label_status!r}, "
                    f"expected {expected!r} (changed by someone else)"
                )
            return record.model_copy(update={"label_status": status})

        self._update_capture(capture_id, change)

    def set_quality(self, capture_id: str, quality: dict[str, Any]) -> None:
        verdict = plain(quality)
        self._update_capture(capture_id, lambda r: r.model_copy(update={"quality": verdict}))

    # --- integrity ------------------------------------------------------------------------
    def _referenced(self) -> dict[str, ObjectRef]:
        """Every object some record refers to, by key."""
        refs: dict[str, ObjectRef] = {}
        for ref in self._all_refs():
            refs[ref.key] = ref
        return refs

    def _all_refs(self) -> Iterator[ObjectRef]:
        for item in self.records.scan(CAPTURES):
            record = CaptureRecord.model_validate_json(item["body"])
            yield record.cube
            yield record.preview
            if record.truth is not None:
                yield record.truth
        yield from self._other_refs()

    def _other_refs(self) -> Iterator[ObjectRef]:
        """Objects referenced by the other record kinds (overridden by subclasses)."""
        return iter(())

    def check(
        self,
        *,
        repair: bool = False,
        hash_sample: int | None = None,
        temp_grace_s: float = TEMP_GRACE_S,
    ) -> dict[str, list[str]]:
        """Orphans, missing objects and mismatches. Every object is listed with its size
        (one listing, no request per object): orphans, missing objects and size mismatches
        are found for all. SHA-256 is recomputed for every referenced object, or for a random
        ``hash_sample`` of them (bounded time on a large store; each read verifies its object
        anyway). Partial writes of a killed writer (temp files untouched for ``temp_grace_s``)
        are orphans too; ``repair`` removes them."""
        # Objects are listed before records are scanned: an object whose record lands in
        # between is then seen as referenced, not as an orphan.
        sizes = dict(self.objects.list_sizes())
        referenced = self._referenced()
        orphans = sorted(sizes.keys() - referenced.keys())
        missing = sorted(referenced.keys() - sizes.keys())
        present = sorted(referenced.keys() & sizes.keys())
        mismatched = [key for key in present if sizes[key] != referenced[key].size]
        to_hash = [key for key in present if sizes[key] == referenced[key].size]
        if hash_sample is not None and len(to_hash) > hash_sample:
            to_hash = sorted(random.sample(to_hash, hash_sample))
        for key in to_hash:
            try:
                self._read(referenced[key])
            except IntegrityError:
                (missing if self.objects.head(key) is None else mismatched).append(key)
        mismatched.sort()
        abandoned = self.objects.abandoned_writes(temp_grace_s)
        repaired: list[str] = []
        if repair:
            for name in abandoned:
                self.objects.discard_abandoned(name)
                repaired.append(name)
        if repair and orphans:
            still_referenced = self._referenced()  # an ingest may have finished meanwhile
            for key in orphans:
                if key not in still_referenced:
                    self.objects.delete(key)
                    repaired.append(key)
        return {
            "orphans": orphans + abandoned,
            "missing": missing,
            "mismatched": mismatched,
            "repaired": repaired,
        }

    @staticmethod
    def _validated(what: str, build: Callable[[], T]) -> T:
        """Build a record; a pydantic validation error becomes a StoreError naming ``what``."""
        try:
            return build()
        except ValidationError as exc:
            raise StoreError(f"{what}: invalid record ({exc.errors()[0]['msg']})") from exc
