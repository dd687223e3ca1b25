"""Pull and agreement against a real Label Studio server, on both store backends: annotations
made through the API (as a clinician's browser would) come back as pixel-exact versions."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from label_studio_sdk import LabelStudio

from labeling.agreement import agreement, mean_by_class
from labeling.brush import mask_to_results
from labeling.config import LabelingError, task_labels
from labeling.pull import pull
from labeling.push import push, pushed_captures
from labeling.renderings import rendering_store
from labeling.server import LocalServer
from tests.labeling.conftest import SIZE, fill_phantom
from wound.store.base import CaptureStore

pytestmark = pytest.mark.integration
LABELS = task_labels("burn-depth")


def painted(seed: int) -> np.ndarray:
    """A clinician's mask: every burn-depth class in blocks, shifted by ``seed``."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    for k in range(1, 6):
        mask[(k - 1) * 8 + seed : k * 8 + seed, 4 : 40 + seed] = k
    return mask


def annotate(client: LabelStudio, task_id: int, result: list[dict], **kw: object) -> int:
    return int(client.annotations.create(task_id, result=result, **kw).id)


@pytest.fixture
def pushed(
    store: CaptureStore, ls_client: LabelStudio, label_studio: LocalServer
) -> tuple[list[str], dict[str, int]]:
    ids = fill_phantom(store, subjects=1, captures=3)
    renderings = rendering_store(store, document_root=label_studio.document_root)
    report = push(store, ls_client, "burn-depth", renderings)
    return ids, pushed_captures(ls_client, report.project_id)


def test_pull_versions_idempotent_two_annotators(
    store: CaptureStore, ls_client: LabelStudio, pushed: tuple[list[str], dict[str, int]]
) -> None:
    ids, tasks = pushed
    healing = {
        "type": "choices",
        "from_name": "healing",
        "to_name": "image",
        "value": {"choices": ["does not heal within 21 days"]},
    }
    comment = {
        "type": "textarea",
        "from_name": "comment",
        "to_name": "image",
        "value": {"text": ["eschar at the centre"]},
    }
    first = annotate(
        ls_client, tasks[ids[0]], [*mask_to_results(painted(0), LABELS), healing, comment]
    )
    tag = uuid.uuid4().hex[:8]
    second_user = ls_client.users.create(email=f"second-{tag}@wound.local", username=tag)
    me = ls_client.users.whoami().id
    annotate(
        ls_client, tasks[ids[0]], mask_to_results(painted(2), LABELS), completed_by=second_user.id
    )
    annotate(ls_client, tasks[ids[1]], mask_to_results(painted(1), LABELS))

    report = pull(store, ls_client, "burn-depth")
    assert not report.failed and len(report.stored) == 3
    records = store.list_annotations(ids[0], task="burn-depth")
    assert [r.version for r in records] == [1, 2]
    by_user = {r.annotator: r for r in records}
    assert set(by_user) == {f"ls-user-{me}", f"ls-user-{second_user.id}"}
    mine = by_user[f"ls-user-{me}"]
    np.testing.assert_array_equal(
        store.get_annotation(ids[0], mine.version, task="burn-depth")[1], painted(0)
    )
    assert mine.source == "label-studio" and mine.extra["ls_annotation_id"] == first
    assert mine.extra["healing_heals_21d"] == 0 and mine.extra["comment"] == "eschar at the centre"
    theirs = store.get_annotation(
        ids[0], by_user[f"ls-user-{second_user.id}"].version, task="burn-depth"
    )[1]
    np.testing.assert_array_equal(theirs, painted(2))
    np.testing.assert_array_equal(store.get_annotation(ids[1], task="burn-depth")[1], painted(1))
    assert store.get_record(ids[0]).label_status == "labelled"
    assert store.get_record(ids[2]).label_status == "queued"

    again = pull(store, ls_client, "burn-depth")
    assert again.stored == [] and again.unchanged == 3
    assert len(store.list_annotations(ids[0], task="burn-depth")) == 2

    ls_client.annotations.update(first, result=mask_to_results(painted(3), LABELS))
    edited = pull(store, ls_client, "burn-depth")
    assert edited.stored == [(ids[0], 3)]
    np.testing.assert_array_equal(store.get_annotation(ids[0], task="burn-depth")[1], painted(3))

    (pair,) = agreement(store, "burn-depth", ids)
    assert pair.capture_id == ids[0] and pair.versions == (3, 2)
    # blocks of 8 x 39 and 8 x 38 pixels shifted by one row: overlap 7 x 38
    for name in LABELS.by_name():
        assert pair.dice[name] == pytest.approx(2 * 7 * 38 / (8 * 39 + 8 * 38))
    means = mean_by_class([pair])
    assert set(means) == {"background", *LABELS.by_name()}


def test_bad_annotations_are_reported_by_id_and_nothing_partial_is_stored(
    store: CaptureStore, ls_client: LabelStudio, pushed: tuple[list[str], dict[str, int]]
) -> None:
    ids, tasks = pushed
    good = mask_to_results(painted(0), LABELS)
    wrong_size = mask_to_results(np.ones((SIZE + 1, SIZE), np.uint8), LABELS)
    unknown = [dict(good[0], value=dict(good[0]["value"], brushlabels=["blister"]))]
    bad_size_id = annotate(ls_client, tasks[ids[0]], good[:2] + wrong_size)
    unknown_id = annotate(ls_client, tasks[ids[1]], unknown)
    annotate(ls_client, tasks[ids[2]], good)

    report = pull(store, ls_client, "burn-depth")
    assert [cid for cid, _ in report.stored] == [ids[2]]
    assert set(report.failed) == {
        f"task {tasks[ids[0]]} annotation {bad_size_id}",
        f"task {tasks[ids[1]]} annotation {unknown_id}",
    }
    assert (
        "does not match the capture's 48x48"
        in report.failed[f"task {tasks[ids[0]]} annotation {bad_size_id}"]
    )
    assert "blister" in report.failed[f"task {tasks[ids[1]]} annotation {unknown_id}"]
    assert store.list_annotations(ids[0]) == [] and store.list_annotations(ids[1]) == []
    assert store.get_record(ids[0]).label_status == "queued"


def test_pull_without_project_is_refused(store: CaptureStore, ls_client: LabelStudio) -> None:
    with pytest.raises(LabelingError, match="no project for task wound-mask"):
        pull(store, ls_client, "wound-mask")
