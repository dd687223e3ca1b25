"""The shared FUSeg 2021 training folder imports as the benchmark expects (a few images)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits
from wound.store import CaptureStore


@pytest.mark.data
def test_fuseg_images_and_rgb_masks_import(
    shared_data: Callable[[str], Path], store: CaptureStore
) -> None:
    folder = shared_data("fuseg2021-train")
    files = find_capture_files([folder / "images"], masks_dir=folder / "labels")
    assert len(files) == 810
    results = ingest_files(
        files[:4],
        store,
        pseudonym_key=b"test-key",
        limits=ReadLimits(),
        masks_dir=folder / "labels",
        subject_per_file=True,
        metadata={"wound_type": "dfu"},
    )
    assert [r.status for r in results] == ["created"] * 4, [r.message for r in results]
    for result in results:
        capture = store.get_capture(result.capture_id)
        assert capture.cube.shape == (3, 512, 512)
        assert capture.truth is not None and capture.truth.wound_mask is not None
        assert set(np.unique(capture.truth.wound_mask)) <= {0, 1}
        assert [a.version for a in store.list_annotations(result.capture_id)] == [1]
    assert len({store.get_record(r.capture_id).subject for r in results}) == 4
