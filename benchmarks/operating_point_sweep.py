"""How a burn-depth model's healing threshold plays out on its calibration and held-out subjects.

Per threshold on the calibrated healing map the predictor returns: sensitivity and specificity
(positive = heals, every truth-skin pixel, as in the evaluation report) and the flagged area
(predicted wound pixels below the threshold) divided by the true non-healing wound area. Shows
whether an operating rule fitted on the calibration subjects carries over to the held-out ones
(BENCHMARKS.md, "The demo's cohort and schedule, revisited"; docs/calibration.md).

Usage (on the demo's store, after ``make demo``):
    WOUND_HOME=.wound-demo WOUND_PSEUDONYM_KEY=demo-only-key \\
        python benchmarks/operating_point_sweep.py runs/demo [--model MODEL_ID]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wound.predict import Predictor
from wound.settings import get_settings
from wound.store.factory import open_store
from wound.taxonomy import WOUND_CLASSES

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def sweep(predictor: Predictor, captures: Sequence) -> list[dict[str, float]]:
    """One row per threshold: sensitivity, specificity, flagged / true non-healing area."""
    heals, prob, wound = [], [], []
    true_non_healing = 0
    for capture in captures:
        pred = predictor.predict(capture)
        skin = capture.truth.depth >= 1
        heals.append(capture.truth.healing[skin].astype(bool))
        prob.append(pred.healing_prob[skin])
        wound.append(pred.wound_mask.astype(bool)[skin])
        in_wound = np.isin(capture.truth.depth, WOUND_CLASSES)
        true_non_healing += int((in_wound & (capture.truth.healing == 0)).sum())
    h, p, w = np.concatenate(heals), np.concatenate(prob), np.concatenate(wound)
    return [
        {
            "threshold": t,
            "sensitivity": float((p[h] >= t).mean()),
            "specificity": float((p[~h] < t).mean()),
            "flagged_over_true": float(((p < t) & w).sum() / max(true_non_healing, 1)),
        }
        for t in THRESHOLDS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="the training run folder (its split.json)")
    parser.add_argument("--model", default=None, help="model id (default: latest burn-depth)")
    args = parser.parse_args()
    store = open_store(get_settings())
    predictor = Predictor.from_store(store, args.model, task="burn-depth", engine="torch")
    split = json.loads((args.run_dir / "split.json").read_text())
    held_out = split["val_capture_ids"]
    used = set(split["train_capture_ids"]) | set(held_out)
    calibration = [c.capture_id for c in store.iter_captures() if c.capture_id not in used]
    saved = predictor.calibration.healing_threshold
    print(f"model {predictor.model_id}, saved threshold {saved:.3f}")
    for name, ids in (("calibration", calibration), ("held-out", held_out)):
        print(f"{name}: {len(ids)} captures")
        for row in sweep(predictor, [store.get_capture(i) for i in ids]):
            print(
                f"  threshold {row['threshold']:.2f}  sensitivity {row['sensitivity']:.3f}  "
                f"specificity {row['specificity']:.3f}  "
                f"flagged / true non-healing area {row['flagged_over_true']:.3f}"
            )


if __name__ == "__main__":
    main()
