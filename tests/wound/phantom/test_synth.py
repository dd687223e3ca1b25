"""Synthetic captures: reproducibility, truth maps, metadata and plausibility."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pytest
from pydantic import ValidationError

from wound.capture import Capture
from wound.phantom import (
    DEFAULT_WAVELENGTHS_NM,
    PhantomConfig,
    phantom_capture_id,
    synth_capture,
    synth_cohort,
)
from wound.taxonomy import DepthClass

SMALL = PhantomConfig(height=96, width=96, spacing_mm=1.0)


@pytest.fixture(scope="module")
def cohort() -> list[Capture]:
    return list(synth_cohort(subjects=6, captures_per_subject=2, seed=5, config=SMALL))


def test_default_config_and_capture_shape() -> None:
    capture = synth_capture(seed=1, subject_index=0, capture_index=0)
    assert capture.wavelengths == DEFAULT_WAVELENGTHS_NM
    assert capture.cube.shape == (8, 256, 256) and capture.cube.dtype == np.float32
    assert capture.spacing_mm == 0.5
    assert capture.cube.min() >= 0.0 and capture.cube.max() <= 1.0
    assert capture.validate() is capture


def test_same_seed_identical_different_seed_differs() -> None:
    a = synth_capture(seed=3, subject_index=1, capture_index=2, config=SMALL)
    b = synth_capture(seed=3, subject_index=1, capture_index=2, config=SMALL)
    c = synth_capture(seed=4, subject_index=1, capture_index=2, config=SMALL)
    np.testing.assert_array_equal(a.cube, b.cube)
    assert a.header() == b.header()
    assert a.truth is not None and b.truth is not None
    np.testing.assert_array_equal(a.truth.depth, b.truth.depth)
    assert not np.array_equal(a.cube, c.cube)


def test_cohort_matches_single_captures(cohort: list[Capture]) -> None:
    single = synth_capture(seed=5, subject_index=2, capture_index=1, config=SMALL)
    np.testing.assert_array_equal(cohort[5].cube, single.cube)
    assert cohort[5].metadata == single.metadata


def test_metadata(cohort: list[Capture]) -> None:
    meta = cohort[3].metadata
    assert meta.capture_id == phantom_capture_id("phantom", 5, 1, 1)
    assert meta.subject == "phantom-s001"
    assert "s001" not in (meta.capture_id or "")  # the id does not reveal the subject
    assert meta.wound_type == "burn" and meta.device_id == "phantom" and meta.source == "phantom"
    assert meta.captured_at.tzinfo == UTC
    ids = [c.metadata.capture_id for c in cohort]
    assert len(set(ids)) == len(ids)
    for c in cohort:
        m = c.metadata
        assert m.days_since_injury is not None and 1 <= m.days_since_injury <= 5
        assert m.fitzpatrick in range(1, 7)
        assert m.melanin_fraction is not None and 0 < m.melanin_fraction < 0.5


def test_same_subject_keeps_skin_and_evolves(cohort: list[Capture]) -> None:
    first, second = cohort[0], cohort[1]
    assert first.metadata.subject == second.metadata.subject
    assert first.metadata.fitzpatrick == second.metadata.fitzpatrick
    assert first.metadata.melanin_fraction == second.metadata.melanin_fraction
    assert first.metadata.anatomical_site == second.metadata.anatomical_site
    assert second.metadata.captured_at > first.metadata.captured_at
    assert first.truth is not None and second.truth is not None
    d1, d2 = first.truth.depth, second.truth.depth
    assert not np.array_equal(d1, d2)  # another pose
    assert abs(int((d1 >= 2).sum()) - int((d2 >= 2).sum())) < 0.3 * (d1 >= 2).sum()


def test_truth_maps_cover_all_classes(cohort: list[Capture]) -> None:
    seen: set[int] = set()
    for c in cohort:
        assert c.truth is not None and c.truth.depth is not None and c.truth.healing is not None
        assert c.truth.depth.dtype == np.uint8 and c.truth.healing.dtype == np.uint8
        assert c.truth.depth.shape == c.truth.healing.shape == (96, 96)
        seen |= set(np.unique(c.truth.depth).tolist())
    assert seen == {0, 1, 2, 3, 4, 5}


def test_healing_follows_depth(cohort: list[Capture]) -> None:
    depth = np.concatenate([c.truth.depth.ravel() for c in cohort if c.truth is not None])
    heal = np.concatenate([c.truth.healing.ravel() for c in cohort if c.truth is not None])
    assert set(np.unique(heal).tolist()) == {0, 1}
    assert heal[depth == DepthClass.BACKGROUND].max() == 0
    assert heal[depth == DepthClass.FULL_THICKNESS].max() == 0
    assert heal[depth == DepthClass.HEALTHY].min() == 1
    assert heal[depth == DepthClass.SUPERFICIAL].mean() > 0.95
    assert heal[depth == DepthClass.SUPERFICIAL_PARTIAL].mean() > 0.8
    assert 0.1 < heal[depth == DepthClass.DEEP_PARTIAL].mean() < 0.9


def test_reference_data_consistent_with_truth(cohort: list[Capture]) -> None:
    for c in cohort:
        assert c.truth is not None and c.truth.depth is not None and c.truth.healing is not None
        assert c.reference.biopsy_depth_class == int(c.truth.depth.max())
        wound = c.truth.depth >= 2
        mostly = c.truth.healing[wound].mean() >= 0.5 if wound.any() else True
        assert c.reference.healed_within_21_days == mostly
        assert c.reference.clinician_assessment
        assert c.reference.percent_area_reduction_4w is not None


def test_full_thickness_pixels_show_less_blood_than_superficial_partial(
    cohort: list[Capture],
) -> None:
    """Haemoglobin contrast (NIR over 581 nm), averaged per class over the noisy cohort."""
    ratios: dict[int, list[float]] = {3: [], 5: []}
    for c in cohort:
        assert c.truth is not None and c.truth.depth is not None
        contrast = c.cube[-1] / np.clip(c.cube[2], 1e-3, None)
        for cls in ratios:
            mask = c.truth.depth == cls
            if mask.sum() > 20:
                ratios[cls].append(float(np.median(contrast[mask])))
    assert np.mean(ratios[5]) < np.mean(ratios[3])


def test_pigmentation_varies_between_subjects() -> None:
    caps = list(synth_cohort(subjects=12, captures_per_subject=1, seed=9, config=SMALL))
    types = {c.metadata.fitzpatrick for c in caps}
    assert len(types) >= 4
    darkest = max(caps, key=lambda c: c.metadata.melanin_fraction or 0.0)
    lightest = min(caps, key=lambda c: c.metadata.melanin_fraction or 0.0)

    def healthy_band(c: Capture, band: int) -> float:
        assert c.truth is not None and c.truth.depth is not None
        return float(np.median(c.cube[band][c.truth.depth == DepthClass.HEALTHY]))

    assert healthy_band(darkest, 1) < 0.7 * healthy_band(lightest, 1)  # 525 nm


def test_nuisances_can_be_switched_off() -> None:
    clean = PhantomConfig(
        height=64,
        width=64,
        photons=0,
        read_noise=0,
        glare_spots=0,
        misregistration_px=0,
        exposure_jitter=0,
        illumination_falloff=0,
        micro_variation=0,
    )
    noisy = PhantomConfig(height=64, width=64)
    a = synth_capture(seed=2, subject_index=0, capture_index=0, config=clean)
    b = synth_capture(seed=2, subject_index=0, capture_index=0, config=noisy)
    assert a.truth is not None and b.truth is not None
    np.testing.assert_array_equal(a.truth.depth, b.truth.depth)
    rough = lambda x: float(np.abs(np.diff(x, axis=-1)).mean())  # noqa: E731
    assert rough(b.cube) > 1.5 * rough(a.cube)


def test_configurable_bands() -> None:
    config = PhantomConfig(height=32, width=32, wavelengths_nm=(450.0, 550.0, 650.0, 850.0))
    capture = synth_capture(seed=0, subject_index=0, capture_index=0, config=config)
    assert capture.cube.shape == (4, 32, 32)
    assert capture.wavelengths == (450.0, 550.0, 650.0, 850.0)


@pytest.mark.parametrize(
    "bad",
    [{"wavelengths_nm": (420.0, 1000.0)}, {"wavelengths_nm": (660.0, 620.0)}, {"height": 0}],
)
def test_bad_config_rejected(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PhantomConfig(**bad)  # type: ignore[arg-type]


def test_bad_indices_rejected() -> None:
    with pytest.raises(ValueError, match="subject_index"):
        synth_capture(seed=0, subject_index=-1, capture_index=0)
    with pytest.raises(ValueError, match="subjects"):
        list(synth_cohort(subjects=-2, captures_per_subject=1, seed=0))
