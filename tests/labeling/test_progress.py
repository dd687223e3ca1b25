"""The dashboard's Labeling page reads progress per project from a real Label Studio server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk import LabelStudio

from labeling.brush import mask_to_results
from labeling.config import LabelingError, task_labels
from labeling.progress import project_progress
from labeling.pull import pull
from labeling.push import push, pushed_captures
from labeling.renderings import rendering_store
from labeling.server import LocalServer
from tests.labeling.conftest import SIZE, fill_phantom
from wound.settings import get_settings
from wound.store.local import LocalStore

pytestmark = pytest.mark.integration
LABELS = task_labels("burn-depth")


def test_progress_counts_tasks_annotations_and_agreement(
    tmp_path: Path, ls_client: LabelStudio, label_studio: LocalServer
) -> None:
    home = tmp_path / "wound-home"
    store = LocalStore(home)
    store.init()
    with store:
        ids = fill_phantom(store, subjects=1, captures=2)
        renderings = rendering_store(store, document_root=label_studio.document_root)
        report = push(store, ls_client, "burn-depth", renderings)
        tasks = pushed_captures(ls_client, report.project_id)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        mask[8:24, 8:40] = 4
        other = ls_client.users.create(email="second-progress@wound.local", username="p2")
        for who in ({}, {"completed_by": other.id}):
            ls_client.annotations.create(tasks[ids[0]], result=mask_to_results(mask, LABELS), **who)
        pull(store, ls_client, "burn-depth")
    settings = get_settings(
        backend="local",
        home=home,
        label_studio_url=label_studio.url,
        label_studio_token=label_studio.token,
    )
    (row,) = project_progress(settings)
    assert row["tasks"] == 2 and row["annotated"] == 1 and row["annotations"] == 2
    assert row["agreement (mean Dice)"] == 1.0  # the two annotators painted the same mask
    assert row["url"] == f"{label_studio.url.rstrip('/')}/projects/{report.project_id}"


def test_progress_names_the_server_when_it_is_down(tmp_path: Path) -> None:
    settings = get_settings(
        backend="local",
        home=tmp_path,
        label_studio_url="http://127.0.0.1:9",
        label_studio_token="x",
    )
    with pytest.raises(LabelingError, match=r"127\.0\.0\.1:9 is not reachable"):
        project_progress(settings)
