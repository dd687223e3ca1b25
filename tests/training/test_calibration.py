"""Calibration: temperature scaling lowers ECE on a miscalibrated toy model, the operating-point
and indeterminate rules, and the calibration saved with a model survives the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from training.calibration import (
    IndeterminateRule,
    OperatingRule,
    choose_operating_point,
    choose_uncertainty_threshold,
    expected_calibration_error,
    fit_temperature,
)
from training.config import RunConfig
from training.evaluate_registry import evaluate_registered
from training.registry import register_model
from training.run import train
from wound.calibration import Calibration
from wound.networks import ModelInfo
from wound.predict import Predictor, load_model
from wound.store import LocalStore


def _toy(n: int = 40_000, scale: float = 4.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True logits z ~ N(0, 2), labels ~ Bernoulli(sigmoid(z)); the toy model is overconfident:
    it outputs ``scale * z``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = rng.random(n) < 1 / (1 + np.exp(-z))
    return scale * z, y


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def test_temperature_scaling_lowers_ece_on_an_overconfident_toy_model() -> None:
    logits, y = _toy()
    t = fit_temperature(logits, y)
    assert t == pytest.approx(4.0, rel=0.1)  # recovers the overconfidence factor
    held_logits, held_y = _toy(seed=1)  # fitted on one sample, checked on another
    before = expected_calibration_error(held_y, _sigmoid(held_logits))
    after = expected_calibration_error(held_y, _sigmoid(held_logits / t))
    assert before > 0.08 and after < 0.02 and after < before / 4


def test_temperature_of_a_calibrated_and_an_underconfident_model() -> None:
    logits, y = _toy(scale=1.0)
    assert fit_temperature(logits, y) == pytest.approx(1.0, abs=0.1)
    logits, y = _toy(scale=0.5)
    assert fit_temperature(logits, y) == pytest.approx(0.5, rel=0.1)


def test_multiclass_temperature() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, (20_000, 4))
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert fit_temperature(3 * z, y) == pytest.approx(3.0, rel=0.1)


def test_fit_temperature_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError, match="as many labels"):
        fit_temperature(np.zeros(3), np.zeros(2))


def test_operating_point_non_healing_sensitivity_rule() -> None:
    # 10 non-healing pixels at 0.05..0.50, 10 healing pixels at 0.45..0.95
    non = np.linspace(0.05, 0.50, 10)
    heal = np.linspace(0.45, 0.95, 10)
    y = np.r_[np.zeros(10), np.ones(10)]
    p = np.r_[non, heal]
    t, at = choose_operating_point(y, p, OperatingRule(target=0.9))
    flagged = p < t
    assert flagged[:10].mean() >= 0.9  # >= 90% of the non-healing pixels flagged
    assert at["specificity"] == pytest.approx(flagged[:10].mean())
    assert at["sensitivity"] == pytest.approx(1 - flagged[10:].mean())
    # the best specificity among those: just above the 9th non-healing pixel (0.45), which
    # also flags the healing pixel at 0.45 (sensitivity 0.9); anything higher flags more
    assert 0.45 < t <= 0.5 and at["sensitivity"] == pytest.approx(0.9)
    t_all, at_all = choose_operating_point(y, p, OperatingRule(target=0.99))
    assert at_all["specificity"] == 1.0 and t_all > 0.5
    _, at_bal = choose_operating_point(y, p, OperatingRule(rule="balanced"))
    assert min(at_bal["sensitivity"], at_bal["specificity"]) >= 0.9


def test_operating_point_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="healing and non-healing"):
        choose_operating_point(np.ones(5), np.linspace(0, 1, 5), OperatingRule())


def test_indeterminate_threshold_flags_where_the_model_is_wrong() -> None:
    rng = np.random.default_rng(0)
    u = rng.beta(0.6, 6.0, 50_000)  # mostly confident, a tail of doubtful pixels
    wrong = rng.random(u.size) < u  # calibrated: wrong with probability u
    rule = IndeterminateRule(min_error_rate=0.5, max_share=0.15)
    t, stats = choose_uncertainty_threshold(u, wrong, rule)
    assert stats["share"] <= 0.15 and stats["error_rate_inside"] >= 0.5
    assert stats["error_rate_inside"] >= 3 * stats["error_rate_outside"]
    assert (u > t).mean() == pytest.approx(stats["share"])
    # the largest such region: a lower threshold would flag pixels wrong < 50% of the time
    lower = u > t - 0.05
    assert wrong[lower].mean() < 0.5 and 0.2 < t < 0.7


def test_defaults_of_a_model_saved_without_calibration() -> None:
    info = ModelInfo.model_validate(
        {
            "task": "burn-depth",
            "network": {"in_channels": 2},
            "wavelengths_nm": [500, 600],
            "band_mean": [0, 0],
            "band_std": [1, 1],
        }
    )
    cal = info.calibration
    assert (cal.healing_temperature, cal.class_temperature) == (1.0, 1.0)
    assert (cal.healing_threshold, cal.uncertainty_threshold) == (0.5, 0.5)
    assert not cal.is_fitted


def test_predictor_applies_the_saved_temperature_and_thresholds() -> None:
    from wound.networks import NetworkSpec

    class Fixed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))  # engines read the device from it

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(x.shape[0], 7, *x.shape[-2:])
            out[:, 3] = 5.0  # class 3 everywhere
            out[:, 6] = 2.0  # healing logit
            return out

    base = ModelInfo(
        task="burn-depth",
        network=NetworkSpec(in_channels=2),
        wavelengths_nm=(500.0, 600.0),
        band_mean=(0.0, 0.0),
        band_std=(1.0, 1.0),
    )
    cube = np.zeros((2, 16, 16), np.float32)
    raw = Predictor(Fixed(), base).predict(cube)
    cal = Calibration(healing_temperature=4.0, healing_threshold=0.7, uncertainty_threshold=0.3)
    scaled = Predictor(Fixed(), base.model_copy(update={"calibration": cal})).predict(cube)
    assert raw.healing_prob is not None and scaled.healing_prob is not None
    assert raw.healing_prob[0, 0] == pytest.approx(1 / (1 + np.exp(-2.0)), abs=1e-5)
    assert scaled.healing_prob[0, 0] == pytest.approx(1 / (1 + np.exp(-0.5)), abs=1e-5)
    assert (scaled.healing_threshold, scaled.uncertainty_threshold) == (0.7, 0.3)
    from wound.scoring import score_prediction

    score = score_prediction(scaled, capture_id="cap-x", spacing_mm=None)
    # p_heal = 0.62 < 0.7: every wound pixel unlikely to heal at this operating point
    assert score.non_healing_pixels == 256 and score.healing_threshold == 0.7
    assert score_prediction(raw, capture_id="cap-x", spacing_mm=None).non_healing_pixels == 0


@pytest.mark.slow
def test_calibration_saved_with_the_model_round_trips_through_the_registry(
    tiny_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    cfg = tiny_config(
        epochs=1,
        data={
            "source": "phantom",
            "phantom": {
                "subjects": 6,
                "captures_per_subject": 1,
                "seed": 3,
                "config": {"height": 48, "width": 48},
            },
        },
        calibration={"fraction": 0.25},
    )
    result = train(cfg)
    cal = result.model_info.calibration
    assert cal.is_fitted and cal.fitted_on["captures"] == 1
    calib_ids = set(result.split["calibration_capture_ids"])
    assert calib_ids and not calib_ids & set(result.split["train_capture_ids"])
    assert not calib_ids & set(result.split["val_capture_ids"])  # never the test subjects
    assert not set(result.split["calibration_subjects"]) & set(result.split["val_subjects"])

    store = LocalStore(tmp_path / "home")
    store.init()
    record = register_model(store, result)
    _, info, _ = load_model(store, record.model_id)
    assert info.calibration == cal
    predictor = Predictor.from_store(store, record.model_id)
    assert predictor.calibration == cal
    split = json.loads(store.get_model_file(record.model_id, "split.json"))
    assert set(split["calibration_capture_ids"]) == calib_ids

    _, report = evaluate_registered(store, record.model_id)
    assert report.metrics["calibration"]["healing_threshold"] == cal.healing_threshold
    assert report.metrics["model"]["healing"]["threshold"] == cal.healing_threshold
    assert "calibration_before" in report.metrics["model"]["healing"]
    assert "reliability.png" in report.files and "bland_altman.png" in report.files
    assert "## Calibration" in report.files["report.md"].decode()


def test_area_rule_flags_as_much_as_does_not_heal() -> None:
    from training.calibration import area_matching_threshold

    rng = np.random.default_rng(0)
    prob = rng.random(1000)
    t = area_matching_threshold(prob, 250)
    assert (prob < t).sum() == 250
    assert (prob < area_matching_threshold(prob, 0)).sum() == 0
    assert (prob < area_matching_threshold(prob, 1000)).sum() == 1000
    assert "area" in OperatingRule(rule="area").describe()


def test_calibrated_wound_call_relabels_by_the_summed_wound_probability() -> None:
    from wound.predict import _labels_uncertainty

    # one pixel: healthy skin 0.4 is the single most probable class, the wound classes sum to 0.6
    probs = torch.tensor([0.0, 0.4, 0.25, 0.2, 0.1, 0.05]).reshape(1, 6, 1, 1)
    argmax, _ = _labels_uncertainty(probs.clone(), None, 0.5, (2, 3, 4, 5))
    assert int(argmax) == 1
    called, unc = _labels_uncertainty(probs.clone(), None, 0.5, (2, 3, 4, 5), 0.5)
    assert int(called) == 2  # wound, and its most probable wound class
    assert float(unc) == pytest.approx(0.4, abs=1e-6)  # the call is right with p = 0.6
    strict, _ = _labels_uncertainty(probs.clone(), None, 0.5, (2, 3, 4, 5), 0.7)
    assert int(strict) == 1
