"""Training data: captures + labels as :class:`CaptureItem`, split by subject, band statistics.

Two sources (``RunConfig.data.source``):

* ``phantom``: a cohort generated in memory by :func:`wound.phantom.synth_cohort` (ground truth).
* ``store``: captures of a :class:`~wound.store.base.CaptureStore`, labelled by their ground truth
  or an annotation version, materialised once into a local cache of plain TIFFs
  (``<cache>/<capture_id>/cube.tif`` and ``labels-<spec>.tif``) that the training load transform
  memory-maps with tifffile.

Labels are stacked as ``L x H x W`` uint8, one plane per ``TaskSpec.label_planes``
(:mod:`wound.tasks`): ``burn-depth`` -> [depth class, healing 0/1], ``wound-mask`` -> [wound 0/1].
A plane with a ``derive`` rule is made from the class plane when missing: a store capture with a
burn-depth annotation but no healing annotation gets healing derived from depth (healthy,
superficial and superficial partial heal; deep partial and full thickness do not) and the
manifest says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from training.config import RunConfig
from training.transforms import read_array
from wound.bands import wavelength_mismatch
from wound.capture import Capture, GroundTruth
from wound.errors import BandMismatchError, MetadataError, WoundError
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord
from wound.tasks import get_task
from wound.taxonomy import healing_from_depth

__all__ = ["CaptureItem", "Split", "healing_from_depth", "load_items", "stack_labels"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureItem:
    """One capture ready for training: raw cube and stacked labels (arrays or cached TIFFs)."""

    capture_id: str
    subject: str
    task: str
    header: dict[str, Any]  # Capture.header(): wavelengths, spacing, metadata, reference
    image: Path | np.ndarray  # C x H x W float32 reflectance (not normalised)
    label: Path | np.ndarray  # L x H x W uint8 (see module docstring)
    annotation: dict[str, Any] = field(default_factory=dict)  # task -> "truth" | version | ...

    def load_image(self) -> np.ndarray:
        return read_array(self.image) if isinstance(self.image, Path) else self.image

    def load_label(self) -> np.ndarray:
        return read_array(self.label) if isinstance(self.label, Path) else self.label

    @property
    def wavelengths(self) -> tuple[float, ...]:
        return tuple(float(w) for w in self.header["wavelengths_nm"])

    def truth(self) -> GroundTruth:
        """The labels as :class:`GroundTruth` (depth + healing, or wound_mask)."""
        label = self.load_label()
        planes = get_task(self.task).label_planes
        return GroundTruth(**{p.field: np.asarray(label[k]) for k, p in enumerate(planes)})

    def to_capture(self) -> Capture:
        """A :class:`Capture` whose ``truth`` holds the training labels (for evaluation)."""
        return Capture.from_header(self.header, self.load_image(), truth=self.truth())

    def as_dict(self) -> dict[str, Any]:
        """The MONAI dataset item."""
        return {"image": self.image, "label": self.label, "capture_id": self.capture_id}


@dataclass(frozen=True)
class Split:
    """Train and validation items; no subject is in both."""

    train: list[CaptureItem]
    val: list[CaptureItem]

    def __post_init__(self) -> None:
        both = {i.subject for i in self.train} & {i.subject for i in self.val}
        if both:
            raise ValueError(f"subjects in both train and validation: {sorted(both)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "train_subjects": sorted({i.subject for i in self.train}),
            "val_subjects": sorted({i.subject for i in self.val}),
            "train_capture_ids": [i.capture_id for i in self.train],
            "val_capture_ids": [i.capture_id for i in self.val],
        }


# --- labels ---------------------------------------------------------------------------------


def stack_labels(task: str, truth: GroundTruth, source: str) -> np.ndarray:
    """``L x H x W`` uint8 labels of ``task`` (its ``label_planes``) from ``truth``; a missing
    plane is derived from the class plane when the task says how, else MetadataError."""
    planes: list[np.ndarray] = []
    for plane in get_task(task).label_planes:
        value = getattr(truth, plane.field)
        if value is None and plane.derive is not None and planes:
            value = plane.derive(planes[0])
        if value is None:
            what = plane.field.replace("_", " ")
            raise MetadataError(source, f"no {what} labels for the {task} task")
        value = np.asarray(value)
        planes.append(value > 0 if plane.binary else value)
    return np.stack([np.asarray(p, dtype=np.uint8) for p in planes])


def item_from_capture(
    capture: Capture, task: str, annotation: dict[str, Any] | None = None
) -> CaptureItem:
    """An in-memory item from a capture with ``truth``."""
    cid = capture.identity()
    if capture.truth is None:
        raise MetadataError(cid, "capture has no ground truth")
    return CaptureItem(
        capture_id=cid,
        subject=capture.metadata.subject,
        task=task,
        header=capture.header(),
        image=np.ascontiguousarray(capture.cube, dtype=np.float32),
        label=stack_labels(task, capture.truth, cid),
        annotation=annotation or {task: "truth"},
    )


# --- sources --------------------------------------------------------------------------------


def phantom_items(config: RunConfig) -> list[CaptureItem]:
    """Generate the configured phantom cohort in memory."""
    from wound.phantom import PhantomConfig, synth_cohort

    spec = config.data.phantom
    try:
        pconf = PhantomConfig(**spec.config)
    except (TypeError, ValueError) as exc:
        raise MetadataError("data.phantom.config", f"invalid phantom config ({exc})") from None
    cohort = synth_cohort(
        subjects=spec.subjects,
        captures_per_subject=spec.captures_per_subject,
        seed=spec.seed,
        config=pconf,
    )
    return [item_from_capture(c, config.task) for c in cohort]


def _records(store: CaptureStore, config: RunConfig) -> Iterator[CaptureRecord]:
    flt = config.data.filter
    if flt.capture_ids:
        records: Iterable[CaptureRecord] = (store.get_record(cid) for cid in flt.capture_ids)
    elif flt.subjects:
        records = (r for s in flt.subjects for r in store.iter_captures(subject=s))
    else:
        records = store.iter_captures()
    count = 0
    for record in records:
        if flt.wound_type and record.wound_type != flt.wound_type:
            continue
        yield record
        count += 1
        if flt.limit and count >= flt.limit:
            return


def _atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write via a unique temporary file then rename (safe with several ranks writing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(name))
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda p: p.write_text(text))


def _write_tiff(path: Path, array: np.ndarray) -> None:
    data = np.ascontiguousarray(array)  # uncompressed, minisblack: memory-mappable
    _atomic_write(path, lambda p: tifffile.imwrite(p, data, photometric="minisblack"))


def _label_plan(
    store: CaptureStore, record: CaptureRecord, task: str, label: str | int
) -> dict[str, Any]:
    """Which labels a capture trains with (no pixels read): task -> "truth" | version."""
    cid = record.capture_id
    if label == "truth":
        if record.truth is None:
            raise MetadataError(cid, "no ground truth stored with this capture")
        return {task: "truth"}
    versions = [a.version for a in store.list_annotations(cid, task=task)]
    if not versions:
        raise MetadataError(cid, f"no {task} annotation")
    if label != "latest" and int(label) not in versions:
        raise MetadataError(cid, f"no {task} annotation version {label} (have {versions})")
    plan: dict[str, Any] = {task: max(versions) if label == "latest" else int(label)}
    planes = get_task(task).label_planes
    for plane in planes[1:]:  # the other planes: their latest annotation, else derived
        extra = [a.version for a in store.list_annotations(cid, task=plane.annotation_task)]
        if extra:
            plan[plane.annotation_task] = max(extra)
        elif plane.derive is not None:
            plan[plane.annotation_task] = f"derived-from-{planes[0].field}"
    return plan


def _fetch_labels(
    store: CaptureStore, capture: Capture, task: str, plan: dict[str, Any]
) -> GroundTruth:
    cid = capture.identity()
    if plan[task] == "truth":
        if capture.truth is None:
            raise MetadataError(cid, "no ground truth stored with this capture")
        return capture.truth
    planes = get_task(task).label_planes
    _, mask = store.get_annotation(cid, int(plan[task]), task=task)
    values = {planes[0].field: mask}
    for plane in planes[1:]:
        version = plan.get(plane.annotation_task)
        if isinstance(version, int):
            _, values[plane.field] = store.get_annotation(cid, version, task=plane.annotation_task)
    return GroundTruth(**values)


def store_items(
    config: RunConfig, store: CaptureStore, cache_dir: Path
) -> tuple[list[CaptureItem], list[dict[str, str]]]:
    """Store captures with their labels, cached as TIFFs; also the (capture, reason) skipped.

    Capture ids are immutable identities and annotation versions are append-only, so a cached
    ``cube.tif`` / ``labels-<plan>.tif`` pair never goes stale.
    """
    items: list[CaptureItem] = []
    skipped: list[dict[str, str]] = []
    task, label = config.task, config.data.label
    for record in _records(store, config):
        cid = record.capture_id
        try:
            plan = _label_plan(store, record, task, label)
        except MetadataError as exc:
            skipped.append({"capture_id": cid, "reason": exc.problem})
            continue
        folder = cache_dir / cid
        cube_path, header_path = folder / "cube.tif", folder / "header.json"
        spec = "_".join(f"{k}-{v}" for k, v in sorted(plan.items()))
        label_path = folder / f"labels_{spec}.tif"
        if not (cube_path.exists() and header_path.exists() and label_path.exists()):
            capture = store.get_capture(cid)
            try:
                labels = stack_labels(task, _fetch_labels(store, capture, task, plan), cid)
            except MetadataError as exc:
                skipped.append({"capture_id": cid, "reason": exc.problem})
                continue
            _write_tiff(cube_path, capture.cube.astype(np.float32, copy=False))
            _write_tiff(label_path, labels)
            _write_text(header_path, json.dumps(capture.header()))
        items.append(
            CaptureItem(
                capture_id=cid,
                subject=record.subject,
                task=task,
                header=json.loads(header_path.read_text()),
                image=cube_path,
                label=label_path,
                annotation=plan,
            )
        )
    if skipped:
        log.warning("%d captures skipped (no %s labels)", len(skipped), label)
    return items, skipped


def load_items(
    config: RunConfig, store: CaptureStore | None
) -> tuple[list[CaptureItem], list[dict[str, str]]]:
    """All items of the configured source (checked: some, and one set of wavelengths)."""
    if config.data.source == "phantom":
        items, skipped = phantom_items(config), list[dict[str, str]]()
    else:
        if store is None:
            raise WoundError("data.source is 'store' but no store was given")
        cache = config.data.cache_dir or config.output_dir / "cache"
        items, skipped = store_items(config, store, cache)
    if not items:
        raise MetadataError(
            config.data.source, f"no captures with {config.data.label} labels for {config.task}"
        )
    check_same_bands(items)
    return items, skipped


def check_same_bands(items: Sequence[CaptureItem]) -> None:
    """Every item has the first item's bands (:func:`wound.bands.wavelength_mismatch`)."""
    first = items[0].wavelengths
    for item in items[1:]:
        if wavelength_mismatch(item.wavelengths, first) is not None:
            raise BandMismatchError(
                item.capture_id,
                f"bands {list(item.wavelengths)} nm differ from {list(first)} nm of "
                f"{items[0].capture_id}; train on captures of one band set",
            )


# --- split and statistics -------------------------------------------------------------------


def split_by_subject(items: Sequence[CaptureItem], val_fraction: float, seed: int) -> Split:
    """Random subjects (at least one each side) go to validation; all their captures with them."""
    subjects = sorted({i.subject for i in items})
    if len(subjects) < 2:
        raise MetadataError(
            "split", f"need captures of at least 2 subjects to split by subject, got {subjects}"
        )
    order = np.random.default_rng(seed).permutation(len(subjects))
    n_val = min(max(1, round(val_fraction * len(subjects))), len(subjects) - 1)
    val_subjects = {subjects[k] for k in order[:n_val]}
    return Split(
        train=[i for i in items if i.subject not in val_subjects],
        val=[i for i in items if i.subject in val_subjects],
    )


def band_statistics(items: Sequence[CaptureItem]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band mean and standard deviation over every pixel of ``items``."""
    total = 0
    s1: np.ndarray | None = None
    s2: np.ndarray | None = None
    for item in items:
        cube = np.asarray(item.load_image(), dtype=np.float64).reshape(len(item.wavelengths), -1)
        a, b = cube.sum(axis=1), np.square(cube).sum(axis=1)
        s1 = a if s1 is None else s1 + a
        s2 = b if s2 is None else s2 + b
        total += cube.shape[1]
    assert s1 is not None and s2 is not None
    mean = s1 / total
    std = np.sqrt(np.maximum(s2 / total - mean**2, 0.0))
    std = np.maximum(std, 1e-6)
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)


def build_manifest(
    config: RunConfig, split: Split, skipped: Sequence[dict[str, str]]
) -> dict[str, Any]:
    """The exact training manifest: every capture, its labels and its side of the split."""
    captures = [
        {"capture_id": i.capture_id, "subject": i.subject, "split": side, "labels": i.annotation}
        for side, group in (("train", split.train), ("val", split.val))
        for i in group
    ]
    manifest: dict[str, Any] = {
        "task": config.task,
        "source": config.data.source,
        "label": config.data.label,
        "captures": captures,
        "skipped": list(skipped),
        "split": split.to_json(),
    }
    if config.data.source == "phantom":
        manifest["phantom"] = config.data.phantom.model_dump(mode="json")
    else:
        manifest["filter"] = config.data.filter.model_dump(mode="json")
    return manifest


def manifest_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    split = manifest["split"]
    return {
        "source": manifest["source"],
        "label": manifest["label"],
        "captures": len(manifest["captures"]),
        "train_captures": len(split["train_capture_ids"]),
        "val_captures": len(split["val_capture_ids"]),
        "train_subjects": len(split["train_subjects"]),
        "val_subjects": len(split["val_subjects"]),
        "skipped": len(manifest["skipped"]),
    }
