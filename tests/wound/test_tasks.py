"""The task table: one entry per task, consistent with the taxonomy and the networks."""

from __future__ import annotations

import numpy as np
import pytest

from wound.capture import GroundTruth
from wound.tasks import TASKS, Head, TaskSpec, get_task
from wound.taxonomy import DEPTH_COLOURS, DEPTH_NAMES, WOUND_CLASSES, healing_from_depth


def test_get_task_known_and_unknown() -> None:
    assert get_task("burn-depth") is TASKS["burn-depth"]
    assert get_task(TASKS["wound-mask"]) is TASKS["wound-mask"]
    with pytest.raises(
        ValueError, match=r"unknown task 'ulcer'.*burn-depth, ulcer-healing, wound-mask"
    ):
        get_task("ulcer")


def test_burn_depth_layout_from_taxonomy() -> None:
    spec = get_task("burn-depth")
    assert (spec.n_classes, spec.out_channels) == (6, 7)
    assert spec.class_names == DEPTH_NAMES and spec.class_colours == DEPTH_COLOURS
    assert spec.wound_classes == WOUND_CLASSES
    assert spec.has_healing and spec.head("healing") == Head(
        "healing", 6, 7, "sigmoid", "heals within 21 days"
    )
    assert spec.annotation_tasks == ("burn-depth", "healing")
    assert spec.input_kind == "multispectral" and spec.headline_metric == "healing_auc"


def test_wound_mask_layout() -> None:
    spec = get_task("wound-mask")
    assert (spec.n_classes, spec.out_channels) == (2, 2)
    assert not spec.has_healing and spec.head("healing") is None
    assert spec.input_kind == "rgb" and spec.wound_classes == (1,)
    assert spec.class_map == "wound" and spec.map_names[0] == "wound"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_is_consistent(name: str) -> None:
    spec = TASKS[name]
    assert spec.name == name
    assert spec.class_map in spec.map_names and "uncertainty" in spec.map_names
    assert spec.label_planes[0].annotation_task == name  # the class plane is the task's own
    assert set(spec.wound_classes) <= set(spec.class_names)
    assert all(c.colour.startswith("#") and len(c.colour) == 7 for c in spec.classes)
    fields = set(GroundTruth.__dataclass_fields__)
    assert {p.field for p in spec.label_planes} <= fields


def test_bad_entry_is_refused() -> None:
    base = TASKS["wound-mask"]
    with pytest.raises(ValueError, match="tile the output"):
        TaskSpec(
            **{
                **base.__dict__,
                "heads": (Head("wound", 0, 2, "softmax"), Head("x", 3, 4, "sigmoid")),
            }
        )
    with pytest.raises(ValueError, match="class head width"):
        TaskSpec(**{**base.__dict__, "heads": (Head("wound", 0, 3, "softmax"),)})
    with pytest.raises(ValueError, match="headline metric"):
        TaskSpec(**{**base.__dict__, "headline_metric": "healing_auc"})


def test_healing_derived_from_depth() -> None:
    depth = np.arange(6, dtype=np.uint8)[None]
    assert healing_from_depth(depth).tolist() == [[0, 1, 1, 1, 0, 0]]
