"""Score-level evaluation: the score's areas against the truth, Bland–Altman, indeterminate."""

from __future__ import annotations

import numpy as np
import pytest

from training.score_eval import (
    NON_HEALING,
    WOUND,
    agreement,
    agreement_with_breakdown,
    capture_agreement,
)
from wound.capture import Capture
from wound.phantom.synth import PhantomConfig, synth_capture
from wound.predict import Prediction


def _capture(k: int) -> Capture:
    return synth_capture(
        seed=3, subject_index=k, capture_index=0, config=PhantomConfig(height=48, width=48)
    )


def _prediction(labels: np.ndarray, heal: np.ndarray, unc: np.ndarray) -> Prediction:
    probs = np.stack([(labels == c).astype(np.float32) for c in range(6)])
    return Prediction(
        task="burn-depth",
        probabilities=probs,
        labels=labels.astype(np.uint8),
        uncertainty=unc.astype(np.float32),
        healing_prob=heal.astype(np.float32),
        healing_threshold=0.5,
        uncertainty_threshold=0.5,
    )


def _truth(cap: Capture) -> tuple[np.ndarray, np.ndarray]:
    assert cap.truth is not None and cap.truth.depth is not None and cap.truth.healing is not None
    return np.asarray(cap.truth.depth).astype(np.int64), np.asarray(cap.truth.healing) > 0


def test_an_oracle_prediction_agrees_exactly() -> None:
    rows = []
    for k in range(3):
        cap = _capture(k)
        depth, heals = _truth(cap)
        pred = _prediction(depth, heals.astype(float) * (depth > 0), np.zeros(depth.shape))
        rows.append(capture_agreement(cap, pred, depth, heals, "I-II"))
    summary = agreement(rows)
    assert summary["unit"] == "cm2"  # the phantom records its pixel spacing
    wound = summary["quantities"][WOUND]
    assert wound["median_abs_error_pct"] == 0.0 and wound["total_error_pct"] == 0.0
    assert wound["bland_altman"]["bias"] == 0.0 and wound["bland_altman"]["loa_high"] == 0.0
    assert summary["quantities"][NON_HEALING]["total_error_pct"] == pytest.approx(0.0)
    assert summary["indeterminate"]["median_share"] == 0.0


def test_known_errors_and_the_indeterminate_region() -> None:
    cap = _capture(0)
    depth, heals = _truth(cap)
    wound = np.isin(depth, (2, 3, 4, 5))
    grown = depth.copy()
    # one extra ring of wound pixels: predicted area > truth
    from scipy import ndimage

    ring = ndimage.binary_dilation(wound) & ~wound & (depth > 0)
    grown[ring] = 3
    unc = np.where(ring, 0.9, 0.1)  # the model flags exactly its own mistakes
    heal = np.where(depth > 0, heals.astype(float), 0.0)
    heal[ring] = 1.0
    pred = _prediction(grown, heal, unc)
    row = capture_agreement(cap, pred, depth, heals, "V-VI")
    a = row["areas"][WOUND]
    px = row["pixel_area"]
    assert a["predicted"] - a["truth"] == pytest.approx(ring.sum() * px)
    ind = row["indeterminate"]
    assert ind["pixels_inside"] == ring.sum() and ind["wrong_inside"] == ring.sum()
    assert ind["wrong_outside"] == 0
    summary = agreement_with_breakdown([row, row])
    q = summary["quantities"][WOUND]
    expect = (a["predicted"] - a["truth"]) / a["truth"] * 100
    assert q["median_abs_error_pct"] == pytest.approx(expect)
    assert q["bland_altman"]["bias"] == pytest.approx(ring.sum() * px)
    assert q["bland_altman"]["sd"] == pytest.approx(0.0)
    assert summary["indeterminate"]["error_rate_inside"] == 1.0
    assert summary["indeterminate"]["error_rate_outside"] == 0.0
    assert set(summary["by_fitzpatrick"]) == {"V-VI"}
    assert len(summary["per_capture"]) == 2
