"""``wound label agreement``: inter-annotator agreement (Dice per class) from stored versions.

For each capture with annotations of ``task`` by two or more annotators (the latest version of
each annotator), Dice per class is computed for every pair with MONAI's ``compute_dice`` on
one-hot masks. A class absent from both masks of a pair is not counted (NaN, ignored in means).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
from monai.metrics import compute_dice
from monai.networks.utils import one_hot

from labeling.config import task_labels
from wound.store.base import CaptureStore


@dataclass(frozen=True)
class PairAgreement:
    capture_id: str
    annotators: tuple[str, str]
    versions: tuple[int, int]
    dice: dict[str, float]  # class name -> Dice (NaN: class in neither mask)


def dice_per_class(a: np.ndarray, b: np.ndarray, n_classes: int) -> np.ndarray:
    """Dice of each class 0..n_classes-1 between two class-id masks (NaN when in neither)."""
    ta = one_hot(torch.as_tensor(a, dtype=torch.long)[None, None], num_classes=n_classes)
    tb = one_hot(torch.as_tensor(b, dtype=torch.long)[None, None], num_classes=n_classes)
    scores = compute_dice(ta, tb, include_background=True, ignore_empty=False).numpy()[0]
    scores = scores.astype(float)
    scores[(ta.sum(dim=(2, 3)) + tb.sum(dim=(2, 3)))[0].numpy() == 0] = np.nan
    return scores


def agreement(
    store: CaptureStore, task: str, capture_ids: Iterable[str] | None = None
) -> list[PairAgreement]:
    """Pairwise Dice per class between annotators, for captures with two or more of them."""
    labels = task_labels(task)
    n_classes = max(c.id for c in labels.classes) + 1
    names = {0: "background", **{c.id: c.name for c in labels.classes}}
    ids = capture_ids if capture_ids is not None else (r.capture_id for r in store.iter_captures())
    rows: list[PairAgreement] = []
    for cid in ids:
        latest = {}
        for record in store.list_annotations(cid, task=task):
            latest[record.annotator] = record  # sorted by version: the last one wins
        if len(latest) < 2:
            continue
        masks = {
            who: store.get_annotation(cid, r.version, task=task)[1] for who, r in latest.items()
        }
        for x, y in combinations(sorted(latest), 2):
            scores = dice_per_class(masks[x], masks[y], n_classes)
            rows.append(
                PairAgreement(
                    cid,
                    (x, y),
                    (latest[x].version, latest[y].version),
                    {names[k]: float(scores[k]) for k in range(n_classes)},
                )
            )
    return rows


def mean_by_class(rows: list[PairAgreement]) -> dict[str, float]:
    """Mean Dice per class over all pairs (NaN-ignoring; NaN when no pair has the class)."""
    if not rows:
        return {}
    out = {}
    for name in rows[0].dice:
        values = [r.dice[name] for r in rows if not np.isnan(r.dice[name])]
        out[name] = float(np.mean(values)) if values else float("nan")
    return out
