"""``wound benchmark segmentation``: train the wound-mask task on a folder of photographs with
masks and score it like the FUSeg challenge (docs/benchmark-segmentation.md).

A folder is ``images/`` + ``labels/`` (same stem; masks in any encoding :mod:`wound.io.mask`
reads). The training folder is imported into the store (:func:`wound.ingest.ingest_files`: each
photo its own subject unless it is already stored), trained with the preset's run config
(``configs/wound-mask.yaml`` = ``cpu``, ``configs/wound-mask-gpu.yaml`` = ``gpu``) through
:func:`training.run.train`, registered, and scored with :class:`wound.predict.Predictor` (the
deployed path: the model's input size, flip TTA, scales and post-processing). Without an eval
folder: k-fold cross-validation by subject, each fold's model registered; with ``ensemble`` the
fold models are also registered as one model (:mod:`wound.ensemble`), scored on the eval folder
when one is given.

Metrics (:func:`scores`): Dice pooled over every pixel of the eval set ("data-based", the
challenge's ranking metric), mean per-image Dice (an image with no wound in truth nor prediction
scores 1), pooled IoU, precision and recall, and one CSV row per image.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.config import CaptureFilter, RunConfig, load_config
from wound.capture import Capture
from wound.errors import WoundError
from wound.ingest import IngestOptions, find_capture_files, ingest_files, read_file
from wound.io import ReadLimits
from wound.predict import Predictor
from wound.store.base import CaptureStore

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PRESETS = {"cpu": "wound-mask.yaml", "gpu": "wound-mask-gpu.yaml"}
Log = Callable[[str], None]


class BenchmarkError(WoundError):
    """A benchmark folder or option that cannot work (names the folder and the problem)."""


@dataclass(frozen=True)
class ImageScore:
    """One eval image: pixel counts and its own Dice/IoU."""

    image: str
    fold: int
    truth_px: int
    pred_px: int
    tp: int

    @property
    def dice(self) -> float:
        total = self.truth_px + self.pred_px
        return 1.0 if total == 0 else 2 * self.tp / total

    @property
    def iou(self) -> float:
        union = self.truth_px + self.pred_px - self.tp
        return 1.0 if union == 0 else self.tp / union


@dataclass
class BenchmarkResult:
    preset: str
    mode: str  # "held-out" | "k-fold" | "model"
    metrics: dict[str, float]
    per_image: list[ImageScore]
    model_ids: list[str]
    wall_s: float
    train_images: int = 0
    eval_images: int = 0
    skipped: list[str] = field(default_factory=list)
    folds: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("per_image")
        return out


def pair_folders(folder: Path) -> tuple[Path, Path]:
    """``folder/images`` and ``folder/labels`` (BenchmarkError naming the folder otherwise)."""
    images, labels = folder / "images", folder / "labels"
    missing = [p.name for p in (images, labels) if not p.is_dir()]
    if missing:
        raise BenchmarkError(
            f"{folder}: needs images/ and labels/ (same file stems); missing {', '.join(missing)}"
        )
    return images, labels


def preset_config(preset: str, **overrides: Any) -> RunConfig:
    """The run config of a preset (``cpu``/``gpu``) or of a run-config YAML file (a recipe
    to try: a copy of a preset, changed), top-level ``overrides`` applied."""
    if preset in PRESETS:
        return load_config(CONFIGS / PRESETS[preset], **overrides)
    if preset.endswith((".yaml", ".yml")):
        return load_config(preset, **overrides)  # RunConfigError names the file and problem
    raise BenchmarkError(
        f"unknown preset {preset!r} (known: {', '.join(PRESETS)}, or a run-config .yaml file)"
    )


def scores(rows: Sequence[ImageScore]) -> dict[str, float]:
    """Pooled ("data-based") Dice, IoU, precision, recall and mean per-image Dice / IoU."""
    tp = sum(r.tp for r in rows)
    truth = sum(r.truth_px for r in rows)
    pred = sum(r.pred_px for r in rows)
    nan = float("nan")
    return {
        "dice_data_based": 2 * tp / (truth + pred) if truth + pred else nan,
        "dice_mean_per_image": float(np.mean([r.dice for r in rows])) if rows else nan,
        "iou_data_based": tp / (truth + pred - tp) if truth + pred - tp else nan,
        "iou_mean_per_image": float(np.mean([r.iou for r in rows])) if rows else nan,
        "precision": tp / pred if pred else nan,
        "recall": tp / truth if truth else nan,
        "images": float(len(rows)),
    }


def score_image(name: str, fold: int, pred: np.ndarray, truth: np.ndarray) -> ImageScore:
    p, t = np.asarray(pred) != 0, np.asarray(truth) != 0
    return ImageScore(name, fold, int(t.sum()), int(p.sum()), int((p & t).sum()))


def write_csv(rows: Sequence[ImageScore], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "fold", "dice", "iou", "truth_px", "pred_px", "tp_px"])
        for r in rows:
            writer.writerow(
                [r.image, r.fold, f"{r.dice:.6f}", f"{r.iou:.6f}", r.truth_px, r.pred_px, r.tp]
            )
    return path


def import_folder(
    store: CaptureStore,
    folder: Path,
    *,
    pseudonym_key: bytes,
    limits: ReadLimits,
    wound_type: str = "dfu",
    limit: int | None = None,
    log: Log = print,
) -> tuple[dict[str, str], list[str]]:
    """Import ``folder`` (images/ + labels/) into ``store``: ``{file name: capture id}`` and
    the failures (one line each, naming the file)."""
    images, labels = pair_folders(folder)
    files = find_capture_files([images], masks_dir=labels)[:limit]
    if not files:
        raise BenchmarkError(f"{images}: no photographs (.jpg, .png)")
    results = ingest_files(
        files,
        store,
        pseudonym_key=pseudonym_key,
        limits=limits,
        metadata={"wound_type": wound_type},
        masks_dir=labels,
        subject_per_file=True,
    )
    ids = {r.path.name: r.capture_id for r in results if r.path is not None and r.capture_id}
    failed = [r.message for r in results if r.status == "failed"]
    log(f"imported {len(ids)} of {len(files)} from {folder} ({len(failed)} skipped)")
    return ids, failed


def read_eval_folder(
    folder: Path, *, pseudonym_key: bytes, limits: ReadLimits, limit: int | None = None
) -> tuple[list[tuple[str, Capture]], list[str]]:
    """Eval photographs with their masks as truth (not stored); failures by name."""
    images, labels = pair_folders(folder)
    options = IngestOptions(pseudonym_key, limits, masks_dir=labels, subject_per_file=True)
    pairs: list[tuple[str, Capture]] = []
    failed: list[str] = []
    for path in find_capture_files([images], masks_dir=labels)[:limit]:
        try:
            pairs.append((path.name, read_file(path, options)))
        except WoundError as exc:
            failed.append(str(exc))
    if not pairs:
        raise BenchmarkError(f"{folder}: no readable image/mask pairs")
    return pairs, failed


def predict_scores(
    predictor: Predictor,
    pairs: Iterator[tuple[str, Capture]] | Sequence[tuple[str, Capture]],
    fold: int = 0,
) -> list[ImageScore]:
    """Score each (name, capture with truth) with ``predictor``."""
    rows = []
    for name, capture in pairs:
        assert capture.truth is not None and capture.truth.wound_mask is not None
        pred = predictor.predict(capture)
        rows.append(score_image(name, fold, pred.wound_mask, capture.truth.wound_mask))
    return rows


def kfold_ids(ids: Sequence[str], subjects: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """``k`` folds of capture ids, whole subjects per fold (random, seeded)."""
    unique = sorted(set(subjects))
    if len(unique) < k:
        raise BenchmarkError(f"k-fold: {k} folds need at least {k} subjects, got {len(unique)}")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[j]: n % k for n, j in enumerate(order)}
    return [[c for c, s in zip(ids, subjects, strict=True) if fold_of[s] == f] for f in range(k)]


def train_and_register(
    config: RunConfig, store: CaptureStore, capture_ids: Sequence[str], run_dir: Path, note: str
) -> tuple[str, Predictor]:
    """Train ``config`` on ``capture_ids``, register the model, return its id and predictor."""
    from training.registry import register_model
    from training.run import train

    data = config.data.model_copy(
        update={"source": "store", "filter": CaptureFilter(capture_ids=list(capture_ids))}
    )
    result = train(config.model_copy(update={"data": data, "output_dir": run_dir}), store=store)
    info_note = {"benchmark": note}
    record = register_model(
        store,
        result,
        extra_files={"benchmark.json": json.dumps(info_note).encode()},
    )
    predictor = Predictor(result.model, result.model_info, model_id=record.model_id)
    return record.model_id, predictor


@dataclass
class KFoldRun:
    """The fold models of a cross-validation and their scores on their own held-out folds."""

    model_ids: list[str]
    rows: list[ImageScore]
    folds: list[dict[str, float]]


def run_kfold(
    config: RunConfig,
    store: CaptureStore,
    names: dict[str, str],
    folds: int,
    out_dir: Path,
    log: Log = print,
) -> KFoldRun:
    """Train one model per fold on the other folds of ``names`` ({capture id: file name}),
    register it and score it on its fold; each fold's Dice is logged as soon as it ends."""
    start = time.perf_counter()
    cids = sorted(names)
    subjects = [store.get_record(c).subject for c in cids]
    run = KFoldRun([], [], [])
    for f, held in enumerate(kfold_ids(cids, subjects, folds, config.seed)):
        train_ids = [c for c in cids if c not in set(held)]
        log(f"fold {f + 1}/{folds}: training on {len(train_ids)}, scoring {len(held)}")
        mid, predictor = train_and_register(
            config, store, train_ids, out_dir / f"fold{f + 1}", f"fold {f + 1}/{folds}"
        )
        run.model_ids.append(mid)
        fold_rows = predict_scores(
            predictor, ((names[c], store.get_capture(c)) for c in held), fold=f + 1
        )
        run.folds.append(scores(fold_rows))
        run.rows += fold_rows
        log(
            f"fold {f + 1}/{folds}: Dice data-based {run.folds[-1]['dice_data_based']:.3f}, "
            f"mean per image {run.folds[-1]['dice_mean_per_image']:.3f} ({mid}; "
            f"{time.perf_counter() - start:.0f} s so far)"
        )
    return run


def run_benchmark(
    store: CaptureStore,
    *,
    train_dir: Path | None,
    eval_dir: Path | None,
    preset: str = "cpu",
    folds: int = 5,
    ensemble: bool = False,
    out_dir: Path,
    pseudonym_key: bytes,
    limits: ReadLimits | None = None,
    model_id: str | None = None,
    limit: int | None = None,
    overrides: dict[str, Any] | None = None,
    log: Log = print,
) -> BenchmarkResult:
    """Train (or take ``model_id``) and score; writes ``benchmark.json`` and ``per_image.csv``.

    Modes: ``model_id`` + ``eval_dir``: score that model; ``train_dir`` + ``eval_dir``: train one
    model, score it on the eval folder; ``train_dir`` alone: k-fold cross-validation. With
    ``ensemble``, the k fold models are also registered as one ensemble model
    (:mod:`wound.ensemble`), which an ``eval_dir`` then scores (the fold scores are kept).
    """
    start = time.perf_counter()
    limits = limits or ReadLimits()
    config = preset_config(preset, **(overrides or {}))
    if config.task != "wound-mask":
        raise BenchmarkError(f"preset {preset}: task is {config.task}, not wound-mask")
    if ensemble and (train_dir is None or model_id is not None):
        raise BenchmarkError("--ensemble needs --train (its fold models), not --model")
    if train_dir is None and model_id is None:
        raise BenchmarkError("give --train DIR (k-fold), --train and --eval, or --model --eval")
    if model_id is not None and eval_dir is None:
        raise BenchmarkError("--model needs --eval (a folder to score it on)")
    skipped: list[str] = []
    pairs: list[tuple[str, Capture]] = []
    if eval_dir is not None:  # read first: a bad eval folder fails before any training
        pairs, bad = read_eval_folder(
            eval_dir, pseudonym_key=pseudonym_key, limits=limits, limit=limit
        )
        skipped += bad
    n_train = 0
    names: dict[str, str] = {}
    if model_id is None:
        assert train_dir is not None
        ids, bad = import_folder(
            store, train_dir, pseudonym_key=pseudonym_key, limits=limits, limit=limit, log=log
        )
        skipped += bad
        n_train = len(ids)
        names = {cid: name for name, cid in ids.items()}
    cv = KFoldRun([], [], [])
    predictor: Predictor | None = None
    if model_id is not None:
        predictor = Predictor.from_store(store, model_id)
        cv.model_ids.append(predictor.model_id)
        mode = "model"
    elif eval_dir is not None and not ensemble:
        log(f"training preset {preset} on {n_train} images")
        mid, predictor = train_and_register(
            config, store, sorted(names), out_dir / "run", f"held-out {eval_dir}"
        )
        cv.model_ids.append(mid)
        mode = "held-out"
    else:
        cv = run_kfold(config, store, names, folds, out_dir, log)
        mode = "k-fold"
        if ensemble:
            from training.registry import register_ensemble

            record = register_ensemble(
                store, cv.model_ids, note=f"{folds}-fold ensemble, preset {preset}"
            )
            log(f"registered {record.model_id}: the ensemble of the {folds} fold models")
            cv.model_ids.append(record.model_id)
            if eval_dir is not None:
                predictor = Predictor.from_store(store, record.model_id)
                mode = "k-fold ensemble, held-out"
    rows = cv.rows
    out_dir.mkdir(parents=True, exist_ok=True)
    if predictor is not None:
        if cv.rows:  # the fold models' scores, beside the ensemble's on the eval folder
            write_csv(cv.rows, out_dir / "folds_per_image.csv")
        log(f"scoring {predictor.model_id} on {len(pairs)} images of {eval_dir}")
        rows = predict_scores(predictor, pairs)
    result = BenchmarkResult(
        preset=preset,
        mode=mode,
        metrics=scores(rows),
        per_image=rows,
        model_ids=cv.model_ids,
        wall_s=time.perf_counter() - start,
        train_images=n_train,
        eval_images=len(rows),
        skipped=skipped,
        folds=cv.folds,
    )
    (out_dir / "benchmark.json").write_text(json.dumps(result.to_json(), indent=2))
    write_csv(rows, out_dir / "per_image.csv")
    return result
