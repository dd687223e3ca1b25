"""Ingest: folders and files, overlap, bad files reported and skipped, nothing partial stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_cohort
from wound.pseudonym import is_pseudonym
from wound.store import CaptureStore

KEY = b"test-key"


@pytest.fixture
def cohort_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "cohort"
    folder.mkdir()
    config = PhantomConfig(height=32, width=32)
    for capture in synth_cohort(subjects=2, captures_per_subject=2, seed=3, config=config):
        write_capture(capture, folder / f"{capture.identity()}.tif")
    return folder


def test_finds_capture_files_in_folders_sorted_and_skips_masks(tmp_path: Path) -> None:
    (tmp_path / "a" / "masks").mkdir(parents=True)
    for name in ("a/2.tif", "a/1.TIFF", "a/x.txt", "a/masks/1.png", "b.jpg"):
        (tmp_path / name).write_bytes(b"")
    found = find_capture_files([tmp_path / "a", tmp_path / "b.jpg"], masks_dir=tmp_path / "a/masks")
    assert [p.name for p in found] == ["1.TIFF", "2.tif", "b.jpg"]


@pytest.mark.parametrize("workers", [1, 3])
def test_ingest_stores_every_capture_once(
    store: CaptureStore, cohort_dir: Path, workers: int
) -> None:
    files = find_capture_files([cohort_dir])
    results = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(), workers=workers)
    assert [r.status for r in results] == ["created"] * 4
    assert [r.path for r in results] == files  # input order kept
    records = list(store.iter_captures())
    assert len(records) == 4
    assert all(is_pseudonym(r.subject) for r in records)
    assert len({r.subject for r in records}) == 2
    again = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(), workers=workers)
    assert [r.status for r in again] == ["exists"] * 4
    assert len(list(store.iter_captures())) == 4


def test_ingest_round_trips_the_cube_and_truth(store: CaptureStore, cohort_dir: Path) -> None:
    path = find_capture_files([cohort_dir])[0]
    (result,) = ingest_files([path], store, pseudonym_key=KEY, limits=ReadLimits())
    assert result.capture_id is not None
    stored = store.get_capture(result.capture_id)
    from wound.io import read_capture

    original = read_capture(path, pseudonym_key=KEY)
    np.testing.assert_array_equal(stored.cube, original.cube)
    assert stored.truth is not None and original.truth is not None
    assert stored.truth.depth is not None and original.truth.depth is not None
    np.testing.assert_array_equal(stored.truth.depth, original.truth.depth)
    assert stored.metadata == original.metadata


def test_batch_goes_on_past_bad_files_and_stores_nothing_for_them(
    store: CaptureStore, cohort_dir: Path
) -> None:
    good = find_capture_files([cohort_dir])
    truncated = cohort_dir / "truncated.tif"
    truncated.write_bytes(good[0].read_bytes()[:5000])
    junk = cohort_dir / "junk.tif"
    junk.write_bytes(b"not a tiff at all")
    missing = cohort_dir / "missing.tif"
    files = [truncated, *good, junk, missing]
    results = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(), workers=2)
    failed = {r.path.name: r.error for r in results if r.status == "failed"}
    assert set(failed) == {"truncated.tif", "junk.tif", "missing.tif"}
    for name, error in failed.items():
        assert error is not None and name in error
    assert sum(r.status == "created" for r in results) == 4
    assert len(list(store.iter_captures())) == 4
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}


def test_limits_refuse_oversized_captures(store: CaptureStore, cohort_dir: Path) -> None:
    files = find_capture_files([cohort_dir])
    results = ingest_files(files, store, pseudonym_key=KEY, limits=ReadLimits(max_pixels=100))
    assert all(r.status == "failed" and "pixels" in (r.error or "") for r in results)
    assert list(store.iter_captures()) == []
