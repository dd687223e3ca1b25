"""Ingest capture files into the store: read, validate, render preview, checksum, upload.

Work on different files overlaps in a thread pool (tifffile, NumPy, hashlib, PNG encoding and
boto3's sockets release the GIL), so a batch runs near the store's transfer rate. A bad file is
reported and skipped; it never leaves a record behind (the store writes objects first, the
record last).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wound.errors import CaptureError, StoreError
from wound.io import ReadLimits, read_capture, render_preview
from wound.store.base import CaptureStore

CAPTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
Status = Literal["created", "exists", "failed"]


@dataclass(frozen=True)
class IngestResult:
    """What happened to one file."""

    path: Path
    status: Status
    capture_id: str | None = None
    error: str | None = None
    seconds: float = 0.0


def find_capture_files(paths: Iterable[Path], *, masks_dir: Path | None = None) -> list[Path]:
    """Files given directly, plus capture files found (recursively, sorted) in folders.

    Files inside ``masks_dir`` are masks, not captures, and are left out.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file() or child.suffix.lower() not in CAPTURE_SUFFIXES:
                    continue
                if masks_dir is not None and child.resolve().is_relative_to(masks_dir.resolve()):
                    continue
                found.append(child)
        else:
            found.append(path)
    return found


def mask_for(path: Path, masks_dir: Path | None) -> Path | None:
    """The mask file of a photograph: same stem, ``.png``, in ``masks_dir`` (when it exists)."""
    if masks_dir is None:
        return None
    candidate = masks_dir / f"{path.stem}.png"
    return candidate if candidate.exists() else None


def ingest_file(
    path: Path,
    store: CaptureStore,
    *,
    pseudonym_key: bytes,
    limits: ReadLimits,
    metadata: dict[str, Any] | None = None,
    wavelengths: list[float] | None = None,
    masks_dir: Path | None = None,
) -> IngestResult:
    """Read, validate and store one file; every failure becomes a result, never an exception."""
    start = time.perf_counter()
    try:
        capture = read_capture(
            path,
            pseudonym_key=pseudonym_key,
            limits=limits,
            wavelengths=wavelengths,
            metadata=metadata,
            mask_path=mask_for(path, masks_dir),
        )
        preview = render_preview(capture)
        put = store.put_capture(capture, preview_png=preview)
    except (CaptureError, StoreError) as exc:
        return IngestResult(path, "failed", error=str(exc), seconds=time.perf_counter() - start)
    except OSError as exc:  # unreadable path, permissions: still name the file
        error = f"{path}: {exc.strerror or exc}"
        return IngestResult(path, "failed", error=error, seconds=time.perf_counter() - start)
    status: Status = "created" if put.created else "exists"
    return IngestResult(path, status, put.capture_id, seconds=time.perf_counter() - start)


def ingest_files(
    files: list[Path],
    store: CaptureStore,
    *,
    pseudonym_key: bytes,
    limits: ReadLimits,
    workers: int = 4,
    metadata: dict[str, Any] | None = None,
    wavelengths: list[float] | None = None,
    masks_dir: Path | None = None,
    on_result: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest ``files`` with ``workers`` overlapping threads; results in input order."""

    def one(path: Path) -> IngestResult:
        result = ingest_file(
            path,
            store,
            pseudonym_key=pseudonym_key,
            limits=limits,
            metadata=metadata,
            wavelengths=wavelengths,
            masks_dir=masks_dir,
        )
        if on_result is not None:
            on_result(result)
        return result

    if workers <= 1:
        return [one(p) for p in files]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        return list(pool.map(one, files))
