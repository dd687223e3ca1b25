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

Photographs with masks (``masks_dir``, docs/storage.md): each photo needs its mask (same stem,
:data:`wound.io.mask.MASK_SUFFIXES`); the mask becomes the capture's ground truth and, once, its
wound-mask annotation version 1 (source ``"import"``), so ``label: truth`` and ``label: latest``
both train. ``per_file`` gives metadata per file name (a CSV manifest, :mod:`wound.manifest`);
``subject_per_file`` makes each photo without a subject its own pseudonymous subject.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from wound.capture import Capture
from wound.errors import CaptureError, StoreError
from wound.io import ReadLimits, read_capture, render_preview
from wound.io.mask import MASK_SUFFIXES
from wound.store.base import CaptureStore
from wound.tasks import get_task

if TYPE_CHECKING:
    from wound.scoring import Score

CAPTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Annotator and source of the annotation version 1 made from an imported mask.
IMPORT_SOURCE = "import"
_ANNOTATE = threading.Lock()  # check-then-append of the import annotation, one at a time
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
    per_file: Mapping[str, Mapping[str, Any]] | None = None  # file name -> metadata (manifest)
    subject_per_file: bool = False  # a photo without a subject is its own subject


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
    """The mask file of a photograph: same stem, a mask suffix (``.png`` first), in ``masks_dir``
    (None when there is none)."""
    if masks_dir is None:
        return None
    for suffix in MASK_SUFFIXES:
        candidate = masks_dir / f"{path.stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def file_metadata(path: Path, options: IngestOptions) -> dict[str, Any] | None:
    """The metadata of one file: the options', then its manifest row, then (photos without a
    subject, ``subject_per_file``) its own subject named after the file (pseudonymised on read)."""
    meta = dict(options.metadata or {})
    if options.per_file is not None:
        meta.update({k: v for k, v in options.per_file.get(path.name, {}).items() if v})
    if (
        options.subject_per_file
        and not meta.get("subject")
        and path.suffix.lower() in PHOTO_SUFFIXES
    ):
        meta["subject"] = f"image:{path.stem}"
    return meta or None


def read_file(path: Path, options: IngestOptions) -> Capture:
    """Read, pseudonymise and validate one file (raises :class:`CaptureError`)."""
    if path.is_dir():
        raise CaptureError(path, "is a folder (or a link to one), not a capture file")
    mask = mask_for(path, options.masks_dir)
    if options.masks_dir is not None and mask is None:
        raise CaptureError(
            path,
            f"no mask {path.stem}.png (or {', '.join(MASK_SUFFIXES[1:])}) in {options.masks_dir}",
        )
    return read_capture(
        path,
        pseudonym_key=options.pseudonym_key,
        limits=options.limits,
        wavelengths=options.wavelengths,
        metadata=file_metadata(path, options),
        mask_path=mask,
    )


def annotate_import(store: CaptureStore, capture_id: str, capture: Capture) -> bool:
    """Store an imported wound mask as annotation version 1 (source "import") unless the
    capture already has a wound-mask annotation; True when one was added."""
    if capture.truth is None or capture.truth.wound_mask is None:
        return False
    (plane,) = [p for p in get_task("wound-mask").label_planes if p.field == "wound_mask"]
    with _ANNOTATE:
        if store.list_annotations(capture_id, task=plane.annotation_task):
            return False
        store.add_annotation(
            capture_id,
            capture.truth.wound_mask,
            task=plane.annotation_task,
            annotator=IMPORT_SOURCE,
            source=IMPORT_SOURCE,
        )
    return True


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
        capture = read_file(path, options)
        capture_id, status = store_capture(store, capture)
        if options.masks_dir is not None:
            annotate_import(store, capture_id, capture)
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
    per_file: Mapping[str, Mapping[str, Any]] | None = None,
    subject_per_file: bool = False,
    on_result: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ingest ``files`` with ``workers`` overlapping threads; outcomes in input order."""
    options = IngestOptions(
        pseudonym_key, limits, metadata, wavelengths, masks_dir, per_file, subject_per_file
    )

    def one(path: Path) -> Outcome:
        outcome = ingest_file(path, store, options)
        if on_result is not None:
            on_result(outcome)
        return outcome

    if workers <= 1:
        return [one(p) for p in files]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        return list(pool.map(one, files))
