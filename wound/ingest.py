"""The one way into the store: read, validate, render preview, checksum, upload.

``wound ingest`` (:func:`ingest_files`) and ``wound predict FILE``
(:func:`wound.pipeline.score_file`) both read with :func:`read_file` and store with
:func:`store_capture`, take the same options (:class:`IngestOptions`) and report one result
type, :class:`Outcome`, with one status literal, :data:`Status`.

Work on different files overlaps in a thread pool (tifffile, NumPy, hashlib, PNG encoding and
boto3's sockets release the GIL), so a batch runs near the store's transfer rate. A bad file is
reported (one line naming it and the reason) and the batch goes on; it never leaves an object or
a record behind (the store validates and serialises everything before it writes, objects first,
the record last).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wound.capture import Capture
from wound.errors import CaptureError, StoreError
from wound.io import ReadLimits, read_capture, render_preview
from wound.store.base import CaptureStore

if TYPE_CHECKING:
    from wound.scoring import Score

CAPTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
#: Every status a file or capture can end in, for ingest and predict alike.
Status = Literal["created", "exists", "scored", "refused", "skipped", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What happened to one file or capture (one line of CLI output)."""

    capture_id: str  # the platform's id; "" when the file never became a capture
    status: Status
    message: str = ""
    score: Score | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    path: Path | None = None  # the file, when the capture came from one

    @property
    def error(self) -> str | None:
        return self.message if self.status == "failed" else None

    def line(self, prefix: str = "") -> str:
        total = sum(self.timings_ms.values())
        took = f" [{total:.0f} ms]" if total else ""
        who = self.capture_id or str(self.path or "")
        if self.path is not None and self.capture_id:
            who = f"{self.path.name} -> {self.capture_id}"
        return f"{prefix}{who}: {self.status}{took}" + (
            f" — {self.message}" if self.message else ""
        )


@dataclass(frozen=True)
class IngestOptions:
    """What ``wound ingest`` and ``wound predict FILE`` are told about the files."""

    pseudonym_key: bytes
    limits: ReadLimits = field(default_factory=ReadLimits)
    metadata: Mapping[str, Any] | None = None  # subject, wound_type, wound_id, ...
    wavelengths: Sequence[float] | None = None
    masks_dir: Path | None = None


def find_capture_files(
    paths: Iterable[Path], *, masks_dir: Path | None = None, exclude: Iterable[Path] = ()
) -> list[Path]:
    """Files given directly, plus capture files found (recursively, sorted) in folders.

    A path named like a capture file (``*.tif``, ...) is a file: it is never walked, even when
    it is a folder or a link to one (reading it then fails, by name). Links to folders found
    inside a folder are not followed. Files inside ``masks_dir`` (masks, not captures) and
    inside ``exclude`` (e.g. the store's own folder) are left out.
    """
    skip = [p.resolve() for p in (masks_dir, *exclude) if p is not None]
    found: list[Path] = []
    for path in paths:
        if path.suffix.lower() in CAPTURE_SUFFIXES or not path.is_dir():
            found.append(path)
            continue
        children: list[Path] = []
        for folder, dirs, names in os.walk(path, followlinks=False):
            dirs.sort()
            base = Path(folder)
            if any(base.resolve().is_relative_to(s) for s in skip):
                dirs.clear()
                continue
            linked = [d for d in dirs if (base / d).is_symlink()]  # never walked: reported
            for name in [*names, *linked]:  # special files too: refused by name when read
                if Path(name).suffix.lower() in CAPTURE_SUFFIXES:
                    children.append(base / name)
        found.extend(sorted(children))
    return found


def mask_for(path: Path, masks_dir: Path | None) -> Path | None:
    """The mask file of a photograph: same stem, ``.png``, in ``masks_dir`` (when it exists)."""
    if masks_dir is None:
        return None
    candidate = masks_dir / f"{path.stem}.png"
    return candidate if candidate.exists() else None


def read_file(path: Path, options: IngestOptions) -> Capture:
    """Read, pseudonymise and validate one file (raises :class:`CaptureError`)."""
    if path.is_dir():
        raise CaptureError(path, "is a folder (or a link to one), not a capture file")
    return read_capture(
        path,
        pseudonym_key=options.pseudonym_key,
        limits=options.limits,
        wavelengths=options.wavelengths,
        metadata=dict(options.metadata) if options.metadata else None,
        mask_path=mask_for(path, options.masks_dir),
    )


def store_capture(store: CaptureStore, capture: Capture) -> tuple[str, Status]:
    """Store a read capture with its preview: ``(capture id, "created" | "exists")``."""
    put = store.put_capture(capture, preview_png=render_preview(capture))
    return put.capture_id, "created" if put.created else "exists"


def failure(path: Path, exc: BaseException) -> str:
    """One line naming the file and the reason, whatever went wrong."""
    if isinstance(exc, CaptureError) and exc.source is not None:
        return str(exc)
    if isinstance(exc, OSError):  # unreadable path, permissions
        return f"{path}: {exc.strerror or exc}"
    if isinstance(exc, StoreError | CaptureError):
        return f"{path}: {exc}"
    if isinstance(exc, MemoryError):
        return f"{path}: not enough memory to read it"
    return f"{path}: could not be ingested ({type(exc).__name__}: {exc})"


def ingest_file(path: Path, store: CaptureStore, options: IngestOptions) -> Outcome:
    """Read, validate and store one file; every failure becomes an outcome, never an exception
    (an unexpected one too, so a batch always goes on: reported with its type)."""
    start = time.perf_counter()
    try:
        capture_id, status = store_capture(store, read_file(path, options))
    except Exception as exc:
        ms = {"ingest": (time.perf_counter() - start) * 1000}
        return Outcome("", "failed", failure(path, exc), timings_ms=ms, path=path)
    ms = {"ingest": (time.perf_counter() - start) * 1000}
    return Outcome(capture_id, status, timings_ms=ms, path=path)


def ingest_files(
    files: list[Path],
    store: CaptureStore,
    *,
    pseudonym_key: bytes,
    limits: ReadLimits,
    workers: int = 4,
    metadata: Mapping[str, Any] | None = None,
    wavelengths: Sequence[float] | None = None,
    masks_dir: Path | None = None,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ingest ``files`` with ``workers`` overlapping threads; outcomes in input order."""
    options = IngestOptions(pseudonym_key, limits, metadata, wavelengths, masks_dir)

    def one(path: Path) -> Outcome:
        outcome = ingest_file(path, store, options)
        if on_result is not None:
            on_result(outcome)
        return outcome

    if workers <= 1:
        return [one(p) for p in files]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        return list(pool.map(one, files))
