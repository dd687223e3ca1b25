"""``wound label queue``: active learning. Rank unlabelled captures by the model's uncertainty
and push the most uncertain first (Label Studio does not rank tasks by itself).

Score of a capture: mean normalised predictive entropy ``-sum_k p_k log p_k / log K`` of the
class probabilities over the predicted wound region (the whole image when the model sees no
wound). 0 = the model is certain everywhere, 1 = uniform guesses. See docs/labeling.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from label_studio_sdk import LabelStudio

from labeling.config import LabelingError, task_labels
from labeling.push import PushReport, belongs_to, push
from labeling.renderings import RenderingStore
from wound.predict import Prediction, Predictor
from wound.store.base import CaptureStore


@dataclass(frozen=True)
class Ranked:
    capture_id: str
    entropy: float  # mean normalised predictive entropy over the predicted wound
    wound_pixels: int


def normalised_entropy(probabilities: np.ndarray) -> np.ndarray:
    """Per-pixel ``-sum p log p / log K`` of K x H x W class probabilities (in [0, 1])."""
    p = np.clip(probabilities.astype(np.float64), 1e-12, 1.0)
    k = probabilities.shape[0]
    return np.asarray(-(p * np.log(p)).sum(axis=0) / np.log(k), dtype=np.float32)


def capture_entropy(prediction: Prediction) -> tuple[float, int]:
    """Mean normalised entropy over the predicted wound (whole image if none), wound size."""
    entropy = normalised_entropy(prediction.probabilities)
    wound = prediction.wound_mask
    region = wound if wound.any() else np.ones_like(wound)
    return float(entropy[region].mean()), int(wound.sum())


def rank(
    store: CaptureStore,
    predictor: Predictor,
    task: str,
    *,
    capture_ids: Sequence[str] | None = None,
) -> list[Ranked]:
    """Unlabelled captures of ``task`` (or the given ones), most uncertain first."""
    if predictor.task != task:
        raise LabelingError(f"a {predictor.task} model cannot rank {task} captures")
    labels = task_labels(task)
    if capture_ids is None:
        capture_ids = [
            r.capture_id
            for r in store.iter_captures(label_status="unlabelled")
            if belongs_to(r, labels)
        ]
    ranked = []
    for cid in capture_ids:
        score, pixels = capture_entropy(predictor.predict(store.get_capture(cid)))
        ranked.append(Ranked(cid, score, pixels))
    return sorted(ranked, key=lambda r: (-r.entropy, r.capture_id))


def queue(
    store: CaptureStore,
    client: LabelStudio,
    task: str,
    renderings: RenderingStore,
    predictor: Predictor,
    *,
    top: int,
    preannotate: bool = True,
) -> tuple[list[Ranked], PushReport]:
    """Push the ``top`` most uncertain unlabelled captures (with pre-annotations)."""
    ranked = rank(store, predictor, task)[:top]
    report = push(
        store,
        client,
        task,
        renderings,
        predictor=predictor if preannotate else None,
        capture_ids=[r.capture_id for r in ranked],
    )
    return ranked, report
