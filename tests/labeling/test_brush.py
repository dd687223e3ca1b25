"""Converter: mask -> Label Studio brush results -> mask, pixel-exact, against golden JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk.converter.brush import mask2rle

from labeling.brush import mask_to_results, results_to_mask
from labeling.config import LabelingError, task_labels

GOLDEN = Path(__file__).parent / "golden"
TASKS = ("burn-depth", "wound-mask")


def golden_mask(task: str) -> np.ndarray:
    """A 12 x 10 mask holding every class of ``task`` (stripes, a hole, single pixels)."""
    n = len(task_labels(task).classes) + 1
    mask = (np.arange(12)[:, None] * 3 + np.arange(10)[None, :]) % n
    mask[5:8, 4:7] = 0
    mask[0, 0] = n - 1
    return mask.astype(np.uint8)


@pytest.mark.parametrize("task", TASKS)
def test_mask_to_results_matches_golden_json(task: str) -> None:
    results = mask_to_results(golden_mask(task), task_labels(task))
    path = GOLDEN / f"{task}.json"
    if os.environ.get("WOUND_REGENERATE_GOLDEN"):
        path.write_text(json.dumps(results, indent=1) + "\n")
    assert results == json.loads(path.read_text())


@pytest.mark.parametrize("task", TASKS)
def test_golden_json_decodes_pixel_exact(task: str) -> None:
    results = json.loads((GOLDEN / f"{task}.json").read_text())
    labels = task_labels(task)
    mask = golden_mask(task)
    assert {r["value"]["brushlabels"][0] for r in results} == set(labels.by_name())
    decoded = results_to_mask(results, labels, mask.shape)
    np.testing.assert_array_equal(decoded, mask)


def test_round_trip_every_class_on_random_masks() -> None:
    labels = task_labels("burn-depth")
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 13), (64, 48)]:
        mask = rng.integers(0, 6, shape, dtype=np.uint8)
        back = results_to_mask(mask_to_results(mask, labels), labels, shape)
        np.testing.assert_array_equal(back, mask)


def test_overlapping_regions_deeper_class_wins() -> None:
    labels = task_labels("burn-depth")
    a = np.zeros((4, 4), np.uint8)
    a[:2] = 2
    b = np.zeros((4, 4), np.uint8)
    b[1:3] = 4
    results = mask_to_results(b, labels) + mask_to_results(a, labels)
    out = results_to_mask(results, labels, (4, 4))
    assert out[0].tolist() == [2] * 4 and out[1].tolist() == [4] * 4 and out[3].sum() == 0


def _region(name: str, shape: tuple[int, int]) -> dict[str, object]:
    layer = np.ones(shape, np.uint8) * 255
    return {
        "type": "brushlabels",
        "from_name": "label",
        "to_name": "image",
        "original_height": shape[0],
        "original_width": shape[1],
        "value": {"format": "rle", "rle": mask2rle(layer), "brushlabels": [name]},
    }


def test_unknown_label_is_refused_by_name() -> None:
    with pytest.raises(LabelingError, match=r"task 7: label \[.blister.\] is not one of"):
        results_to_mask(
            [_region("blister", (4, 4))], task_labels("burn-depth"), (4, 4), what="task 7"
        )


def test_size_mismatch_is_refused() -> None:
    with pytest.raises(LabelingError, match="5x4 does not match the capture's 4x4"):
        results_to_mask([_region("wound", (5, 4))], task_labels("wound-mask"), (4, 4))


def test_mask_with_unknown_class_is_refused() -> None:
    with pytest.raises(LabelingError, match=r"\[3\] unknown to task wound-mask"):
        mask_to_results(np.full((2, 2), 3, np.uint8), task_labels("wound-mask"))


def test_other_result_types_are_ignored() -> None:
    choice = {"type": "choices", "from_name": "healing", "value": {"choices": ["x"]}}
    out = results_to_mask([choice], task_labels("burn-depth"), (3, 3))
    assert out.sum() == 0
