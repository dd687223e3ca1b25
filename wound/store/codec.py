"""Table schemas, object keys and encodings shared by every backend.

Record kinds (one table each; DynamoDB table ``<prefix>-<name>``, SQLite table ``<name>``):

- ``captures``: key ``capture_id``; indexes ``all`` (kind, sort), ``subject`` (subject, sort),
  ``subject_wound`` (subject#hash of wound id: :func:`subject_wound`, sort), ``label_status``
  (label_status, sort), where ``sort`` is ``<captured_at, ISO UTC>#<capture_id>`` so each
  index is ordered by capture time. Capture ids are the platform's (``cap-`` + 32 hex).
- ``annotations``: key ``capture_id`` + ``task_version`` (``<task>#<version, 8 digits>``).
- ``predictions``: key ``capture_id`` + ``model_id``.
- ``models``: key ``model_id``; indexes ``all`` (kind, sort) and ``task`` (task, sort), where
  ``sort`` is ``<created_at>#<model_id>`` (latest registered = last).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image

from wound.errors import StoreError
from wound.store.primitives import Index, Position, Table

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

CAPTURES = Table(
    "captures",
    hash="capture_id",
    attributes=("kind", "subject", "subject_wound", "label_status", "sort"),
    indexes=(
        Index("all", "kind", "sort"),
        Index("subject", "subject", "sort"),
        Index("subject_wound", "subject_wound", "sort"),
        Index("label_status", "label_status", "sort"),
    ),
)
ANNOTATIONS = Table("annotations", hash="capture_id", range="task_version")
PREDICTIONS = Table("predictions", hash="capture_id", range="model_id")
MODELS = Table(
    "models",
    hash="model_id",
    attributes=("kind", "task", "sort"),
    indexes=(Index("all", "kind", "sort"), Index("task", "task", "sort")),
)
TABLES: tuple[Table, ...] = (CAPTURES, ANNOTATIONS, PREDICTIONS, MODELS)


def check_name(value: str, what: str) -> str:
    """Ids that become part of keys: 1-128 characters of ``[A-Za-z0-9._-]``."""
    if not isinstance(value, str) or not SAFE_NAME.match(value):
        raise StoreError(f"{what} {value!r} must be 1-128 characters of [A-Za-z0-9._-]")
    return value


# --- keys (docs/storage.md): only ids the platform makes, never a patient or device id -------
def _capture_folder(capture_id: str, token: str) -> str:
    """``captures/<capture id>/<write token>``: a random token per write, so two processes
    racing to store one id never write the same key (the loser removes its own objects)."""
    return f"captures/{capture_id}/{token}"


def capture_prefix(capture_id: str) -> str:
    """``captures/<capture id>/``: every object of one capture, whatever its write token."""
    return f"captures/{capture_id}/"


def cube_key(capture_id: str, token: str) -> str:
    return f"{_capture_folder(capture_id, token)}/cube.tif"


def preview_key(capture_id: str, token: str) -> str:
    return f"{_capture_folder(capture_id, token)}/preview.png"


def truth_key(capture_id: str, token: str) -> str:
    return f"{_capture_folder(capture_id, token)}/truth.npz"


def subject_wound(subject: str, wound_id: str) -> str:
    """The ``subject_wound`` index value: the subject pseudonym and a hash of the wound id
    (which is itself a keyed pseudonym when read from a file), never the wound label."""
    digest = hashlib.sha256(f"wound\x00{subject}\x00{wound_id}".encode()).hexdigest()
    return f"{subject}#{digest[:20]}"


def annotation_key(capture_id: str, task: str, version: int) -> str:
    return f"annotations/{capture_id}/{task}/{version}.png"


def prediction_key(capture_id: str, model_id: str) -> str:
    return f"predictions/{capture_id}/{model_id}.npz"


def model_file_key(model_id: str, name: str) -> str:
    return f"models/{model_id}/{name}"


# --- values ---------------------------------------------------------------------------------
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def time_key(when: datetime) -> str:
    """Sortable UTC timestamp (fixed width, so string order is time order)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def task_version(task: str, version: int) -> str:
    return f"{task}#{version:08d}"


def encode_npz(arrays: dict[str, np.ndarray], *, compress: bool = True) -> bytes:
    """An npz archive; ``compress=False`` trades ~2x size for ~100x speed (prediction maps)."""
    buffer = io.BytesIO()
    save = np.savez_compressed if compress else np.savez
    save(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def decode_npz(data: bytes, key: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except (OSError, ValueError) as exc:
        raise StoreError(f"{key}: not a readable npz archive ({exc})") from exc


def encode_mask_png(mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(mask, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_mask_png(data: bytes, key: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image, dtype=np.uint8).copy()
    except OSError as exc:
        raise StoreError(f"{key}: not a readable PNG mask ({exc})") from exc


# --- cursors --------------------------------------------------------------------------------
def encode_cursor(query: str, position: Position | None) -> str | None:
    """Opaque cursor: URL-safe base64 of JSON naming the query and where it stopped."""
    if position is None:
        return None
    raw = json.dumps({"q": query, "p": position}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(query: str, cursor: str | None) -> Position | None:
    if not cursor:
        return None
    try:
        payload: Any = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise StoreError(f"cursor {cursor[:40]!r} is not a cursor this store issued") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("p"), dict):
        raise StoreError(f"cursor {cursor[:40]!r} is not a cursor this store issued")
    position = payload["p"]
    if payload.get("q") != query:
        raise StoreError("cursor belongs to a different query (filters changed between pages)")
    return {str(k): str(v) for k, v in position.items()}
