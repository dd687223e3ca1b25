"""Metric arithmetic on hand-made predictions where the exact values are known."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import (
    binary_metrics,
    calibration,
    fitzpatrick_tertile,
    mask_metrics,
    segmentation_metrics,
    youden_threshold,
)

NAMES3 = {0: "a", 1: "b", 2: "c"}


def test_perfect_segmentation_has_dice_one() -> None:
    rng = np.random.default_rng(0)
    truth = [rng.integers(0, 3, (8, 8)) for _ in range(3)]
    m = segmentation_metrics(truth, truth, NAMES3)
    assert m["pixel_accuracy"] == 1.0
    for v in m["per_class"].values():
        assert v["dice_pooled"] == 1.0
        assert v["iou_pooled"] == 1.0
        assert v["dice_per_image_mean"] == pytest.approx(1.0)
        assert v["iou_per_image_mean"] == pytest.approx(1.0)


def test_known_confusion_matrix_and_scores() -> None:
    truth = np.array([[0, 0, 1, 1], [2, 2, 2, 2]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 0, 1]])
    m = segmentation_metrics([pred], [truth], NAMES3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 1, 2]]
    assert m["pixel_accuracy"] == pytest.approx(5 / 8)
    # class 1: tp 2, fp 2, fn 0 -> Dice 4/6, IoU 2/4; class 2: tp 2, fp 0, fn 2 -> Dice 4/6
    assert m["per_class"]["b"]["dice_pooled"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["iou_pooled"] == pytest.approx(0.5)
    assert m["per_class"]["c"]["dice_pooled"] == pytest.approx(2 / 3)
    # one image: MONAI's per-image values equal the pooled ones
    for v in m["per_class"].values():
        assert v["dice_per_image_mean"] == pytest.approx(v["dice_pooled"])
        assert v["iou_per_image_mean"] == pytest.approx(v["iou_pooled"])


def test_per_image_mean_differs_from_pooled() -> None:
    # image 1: class 1 perfect on 1 pixel; image 2: class 1 has 3 truth pixels, 1 found
    t1, p1 = np.array([[1, 0, 0, 0]]), np.array([[1, 0, 0, 0]])
    t2, p2 = np.array([[1, 1, 1, 0]]), np.array([[1, 0, 0, 0]])
    m = segmentation_metrics([p1, p2], [t1, t2], {0: "bg", 1: "fg"})
    fg = m["per_class"]["fg"]
    assert fg["dice_per_image_mean"] == pytest.approx((1.0 + 0.5) / 2)
    assert fg["dice_pooled"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 2))


def test_binary_metrics_perfect_and_operating_point() -> None:
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0])
    p = np.array([0.1, 0.2, 0.4, 0.6, 0.9, 0.7, 0.55, 0.3])
    m = binary_metrics(y, p, threshold=0.5)
    assert m["auc"] == 1.0
    assert m["sensitivity"] == 1.0 and m["specificity"] == 1.0
    m2 = binary_metrics(y, p, threshold=0.65)
    assert m2["sensitivity"] == pytest.approx(0.5)  # 0.9, 0.7 of 4 positives
    assert m2["specificity"] == 1.0
    assert m2["counts"] == {"tp": 2, "fp": 0, "tn": 4, "fn": 2}
    thr = youden_threshold(y, p)
    assert thr is not None and 0.4 < thr <= 0.55


def test_binary_metrics_single_class_has_no_auc() -> None:
    m = binary_metrics(np.ones(5), np.full(5, 0.8))
    assert m["auc"] is None and m["youden_threshold"] is None
    assert m["sensitivity"] == 1.0 and m["specificity"] is None


def test_calibration_known_ece() -> None:
    # bin [0.2,0.3): p=0.25 x4, 1 positive -> gap 0; bin [0.8,0.9): p=0.85 x4, all positive -> 0.15
    p = np.array([0.25] * 4 + [0.85] * 4)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 1])
    c = calibration(y, p, n_bins=10)
    assert c["ece"] == pytest.approx(0.5 * 0.0 + 0.5 * 0.15)
    assert c["bin_count"][2] == 4 and c["bin_count"][8] == 4
    assert sum(c["bin_count"]) == 8
    perfect = calibration(np.array([0, 1]), np.array([0.0, 1.0]))
    assert perfect["ece"] == pytest.approx(0.0)


def test_mask_metrics_pooled_and_per_image() -> None:
    t1 = np.array([[1, 1, 0, 0]])
    p1 = np.array([[1, 1, 0, 0]])  # perfect
    t2 = np.array([[1, 1, 1, 1, 0, 0]])
    p2 = np.array([[1, 0, 0, 0, 1, 1]])  # tp 1, fp 2, fn 3
    m = mask_metrics([p1, p2], [t1, t2])
    assert m["per_image_mean"]["dice"] == pytest.approx((1.0 + 2 / 7) / 2)
    assert m["per_image_mean"]["precision"] == pytest.approx((1.0 + 1 / 3) / 2)
    # pooled: tp 3, fp 2, fn 3
    assert m["pooled"]["dice"] == pytest.approx(6 / 11)
    assert m["pooled"]["iou"] == pytest.approx(3 / 8)
    assert m["pooled"]["precision"] == pytest.approx(3 / 5)


def test_mask_metrics_empty_prediction_and_truth_is_undefined() -> None:
    m = mask_metrics([np.zeros((2, 2))], [np.zeros((2, 2))])
    assert m["pooled"]["dice"] is None and m["per_image_mean"]["dice"] is None


@pytest.mark.parametrize(
    ("skin", "tertile"), [(1, "I-II"), (2, "I-II"), (3, "III-IV"), (4, "III-IV"), (6, "V-VI")]
)
def test_fitzpatrick_tertiles(skin: int, tertile: str) -> None:
    assert fitzpatrick_tertile(skin) == tertile


def test_fitzpatrick_out_of_range() -> None:
    assert fitzpatrick_tertile(None) is None
    with pytest.raises(ValueError, match="1-6"):
        fitzpatrick_tertile(7)
