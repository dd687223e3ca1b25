"""Training data: labels, split by subject, band statistics, the store source and its cache."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from training.config import RunConfig
from training.data import (
    CaptureItem,
    band_statistics,
    build_manifest,
    healing_from_depth,
    load_items,
    split_by_subject,
    stack_labels,
)
from wound.capture import Capture, GroundTruth
from wound.errors import MetadataError
from wound.phantom import PhantomConfig, synth_cohort
from wound.pseudonym import pseudonymise
from wound.store import LocalStore


def _item(subject: str, k: int, value: float = 0.0) -> CaptureItem:
    cube = np.full((2, 4, 4), value, dtype=np.float32)
    return CaptureItem(
        capture_id=f"{subject}-c{k}",
        subject=subject,
        task="burn-depth",
        header={"wavelengths_nm": [500.0, 600.0]},
        image=cube,
        label=np.zeros((2, 4, 4), dtype=np.uint8),
    )


@pytest.mark.parametrize("seed", range(5))
def test_split_by_subject_never_mixes(seed: int) -> None:
    items = [_item(f"s{s}", k) for s in range(7) for k in range(1 + s % 3)]
    split = split_by_subject(items, 0.3, seed)
    train_subjects = {i.subject for i in split.train}
    val_subjects = {i.subject for i in split.val}
    assert train_subjects and val_subjects and not train_subjects & val_subjects
    assert len(split.train) + len(split.val) == len(items)
    assert len(val_subjects) == 2  # round(0.3 * 7)
    again = split_by_subject(list(reversed(items)), 0.3, seed)
    assert {i.subject for i in again.val} == val_subjects  # input order does not matter


def test_split_needs_two_subjects() -> None:
    with pytest.raises(MetadataError, match="at least 2 subjects"):
        split_by_subject([_item("s0", 0), _item("s0", 1)], 0.5, 0)


def test_band_statistics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    items = []
    for k in range(3):
        it = _item("s", k)
        items.append(dataclasses.replace(it, image=rng.normal(k, 2, (2, 4, 4)).astype(np.float32)))
    mean, std = band_statistics(items)
    allpix = np.concatenate([i.image.reshape(2, -1) for i in items], axis=1)  # type: ignore[union-attr]
    np.testing.assert_allclose(mean, allpix.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(std, allpix.std(axis=1), rtol=1e-5)


def test_labels_stack_and_healing_derivation() -> None:
    depth = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.uint8)
    assert healing_from_depth(depth).tolist() == [[0, 1, 1], [1, 0, 0]]
    stacked = stack_labels("burn-depth", GroundTruth(depth=depth), "x")
    assert stacked.shape == (2, 2, 3) and stacked.dtype == np.uint8
    mask = stack_labels("wound-mask", GroundTruth(wound_mask=depth * 40), "x")
    assert mask.shape == (1, 2, 3) and set(np.unique(mask)) == {0, 1}
    with pytest.raises(MetadataError, match="no wound mask"):
        stack_labels("wound-mask", GroundTruth(depth=depth), "cap-1")


def test_phantom_items_and_manifest(tiny_config: Callable[..., RunConfig]) -> None:
    config = tiny_config()
    items, skipped = load_items(config, None)
    assert len(items) == 8 and not skipped
    first = items[0]
    assert first.load_image().shape == (8, 48, 48)
    assert first.load_label().shape == (2, 48, 48)
    capture = first.to_capture()
    assert capture.truth is not None and capture.truth.healing is not None
    split = split_by_subject(items, 0.25, 0)
    manifest = build_manifest(config, split, skipped)
    assert {c["split"] for c in manifest["captures"]} == {"train", "val"}
    assert manifest["captures"][0]["labels"] == {"burn-depth": "truth"}
    assert manifest["phantom"]["subjects"] == 4


def _stored_cohort(store: LocalStore) -> list[Capture]:
    captures = []
    for c in synth_cohort(
        subjects=3, captures_per_subject=1, seed=5, config=PhantomConfig(height=32, width=32)
    ):
        meta = c.metadata.model_copy(update={"subject": pseudonymise(c.metadata.subject, b"k")})
        captures.append(dataclasses.replace(c, metadata=meta))
        store.put_capture(captures[-1])
    return captures


def test_store_source_truth_and_annotations(
    tiny_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "home")
    store.init()
    captures = _stored_cohort(store)
    first = captures[0].identity()
    depth = np.full((32, 32), 4, dtype=np.uint8)
    store.add_annotation(first, depth, task="burn-depth", annotator="a", source="test")
    store.add_annotation(first, depth * 0 + 2, task="burn-depth", annotator="a", source="test")

    config = tiny_config(data={"source": "store", "label": "truth"})
    items, skipped = load_items(config, store)
    assert len(items) == 3 and not skipped
    assert all(isinstance(i.image, Path) and i.image.exists() for i in items)
    by_id = {i.capture_id: i for i in items}
    truth = captures[0].truth
    assert truth is not None and truth.depth is not None
    np.testing.assert_array_equal(by_id[first].load_label()[0], truth.depth)
    np.testing.assert_array_equal(by_id[first].load_image(), captures[0].cube)

    config = tiny_config(data={"source": "store", "label": 1})
    items, skipped = load_items(config, store)
    assert [i.capture_id for i in items] == [first]
    assert len(skipped) == 2 and "no burn-depth annotation" in skipped[0]["reason"]
    assert items[0].annotation == {"burn-depth": 1, "healing": "derived-from-depth"}
    label = items[0].load_label()
    assert (label[0] == 4).all() and (label[1] == 0).all()  # deep partial does not heal

    latest, _ = load_items(tiny_config(data={"source": "store", "label": "latest"}), store)
    assert latest[0].annotation["burn-depth"] == 2 and (latest[0].load_label()[0] == 2).all()


def test_store_source_without_labels_is_an_error(
    tiny_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "home")
    store.init()
    _stored_cohort(store)
    with pytest.raises(MetadataError, match="no captures with latest labels"):
        load_items(tiny_config(data={"source": "store", "label": "latest"}), store)
