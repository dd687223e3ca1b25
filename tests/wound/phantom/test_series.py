"""Wound series: visits, metadata, burn re-epithelialisation, ulcer courses and their causes."""

from __future__ import annotations

from itertools import combinations, pairwise

import numpy as np
import pytest
from scipy import ndimage
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score

from wound.capture import Capture
from wound.phantom import PhantomConfig, synth_series, visit_days
from wound.phantom.optics import tissue_reflectance
from wound.phantom.series import make_ulcer_subject, series_capture_id
from wound.phantom.ulcer import (
    BLOOD_FRACTION_RANGE,
    CALLUS_MM_RANGE,
    PERIWOUND_STO2_RANGE,
    VIABLE_STO2,
    WATER_FRACTION_RANGE,
    UlcerPhysiology,
    draw_ulcer,
    ulcer_tissue_maps,
)
from wound.taxonomy import DepthClass

SMALL = PhantomConfig(height=64, width=64, spacing_mm=1.0)
#: Noise-free camera: what the tissue looks like without the acquisition nuisances.
CLEAN = PhantomConfig(
    height=96,
    width=96,
    spacing_mm=0.5,
    photons=0,
    read_noise=0,
    illumination_falloff=0,
    exposure_jitter=0,
    glare_spots=0,
    misregistration_px=0,
    micro_variation=0,
)


@pytest.fixture(scope="module")
def ulcers() -> list[Capture]:
    return list(synth_series(kind="dfu", subjects=3, visits=6, seed=2, config=CLEAN))


@pytest.fixture(scope="module")
def burns() -> list[Capture]:
    return list(synth_series(kind="burn", subjects=3, visits=6, seed=4, config=SMALL))


@pytest.fixture(scope="module")
def courses() -> list[tuple[UlcerPhysiology, object]]:
    return [draw_ulcer(np.random.default_rng([11, i])) for i in range(4000)]


def test_visit_days_defaults_and_limits() -> None:
    assert visit_days("burn", 6) == [0, 4, 8, 12, 16, 20]
    assert visit_days("dfu", 13) == [7.0 * v for v in range(13)]
    assert visit_days("dfu", 6, 7) == [0, 7, 14, 21, 28, 35]
    with pytest.raises(ValueError, match="burn series cover days 1-21"):
        visit_days("burn", 6, 7)
    with pytest.raises(ValueError, match="weeks 0-12"):
        visit_days("dfu", 14, 7)
    with pytest.raises(ValueError, match="'burn' or 'dfu'"):
        visit_days("venous", 2)  # type: ignore[arg-type]
    for bad in (0, -1, True):
        with pytest.raises(ValueError, match="visits"):
            visit_days("dfu", bad)
    with pytest.raises(ValueError, match="interval_days"):
        visit_days("dfu", 3, 0)


@pytest.mark.parametrize("kind", ["burn", "dfu"])
def test_series_metadata(kind: str, ulcers: list[Capture], burns: list[Capture]) -> None:
    captures = burns if kind == "burn" else ulcers
    by_subject: dict[str, list[Capture]] = {}
    for c in captures:
        by_subject.setdefault(c.metadata.subject, []).append(c)
    assert len(by_subject) == 3 and all(len(v) == 6 for v in by_subject.values())
    interval = 4.0 if kind == "burn" else 7.0
    for subject, series in by_subject.items():
        assert subject.startswith(f"phantom-{kind}")
        first = series[0].metadata
        for k, c in enumerate(series):
            m = c.metadata
            assert m.wound_type == kind and m.wound_id == "w1" and m.source == "phantom"
            assert m.visit == k + 1 and m.days_since_first_visit == interval * k
            assert (m.captured_at - first.captured_at).total_seconds() == interval * k * 86400
            assert (m.fitzpatrick, m.anatomical_site) == (first.fitzpatrick, first.anatomical_site)
            outcome = ("percent_area_reduction_4w", "healed_by_12_weeks", "healed_within_21_days")
            for name in outcome:  # the outcome is the wound's, the same on every visit
                assert getattr(c.reference, name) == getattr(series[0].reference, name)
            assert subject[-3:] not in (m.capture_id or "")
            if kind == "burn":
                assert m.days_since_injury == 1 + interval * k
                assert c.reference.healed_by_12_weeks is None
            else:
                assert m.days_since_injury is None
                assert isinstance(c.reference.healed_by_12_weeks, bool)
    ids = [c.metadata.capture_id for c in captures]
    assert len(set(ids)) == len(ids)
    assert ids[0] == series_capture_id("phantom", kind, 2 if kind == "dfu" else 4, 0, 0)


def test_series_reproducible_and_each_visit_has_its_own_pose(ulcers: list[Capture]) -> None:
    again = list(synth_series(kind="dfu", subjects=1, visits=2, seed=2, config=CLEAN))
    np.testing.assert_array_equal(again[1].cube, ulcers[1].cube)
    assert again[1].header() == ulcers[1].header()
    assert ulcers[0].truth is not None and ulcers[1].truth is not None
    assert ulcers[0].truth.wound_mask is not None and ulcers[1].truth.wound_mask is not None
    assert not np.array_equal(ulcers[0].cube, ulcers[1].cube)


def test_burn_series_healing_share_closes_full_thickness_does_not(burns: list[Capture]) -> None:
    for start in range(0, len(burns), 6):
        series = burns[start : start + 6]
        open_area = []
        for c in series:
            t = c.truth
            assert t is not None and t.depth is not None and t.healing is not None
            assert t.wound_mask is not None
            wound = t.depth >= DepthClass.SUPERFICIAL
            open_ = t.wound_mask > 0
            assert not (open_ & ~wound).any()  # only burnt skin is open
            assert open_[t.depth == DepthClass.FULL_THICKNESS].all()  # never closes
            open_area.append(open_.sum() / max(wound.sum(), 1))
        assert open_area[0] == pytest.approx(1.0)  # day 1: nothing closed yet
        last = series[-1].truth
        assert last is not None and last.depth is not None and last.wound_mask is not None
        assert last.healing is not None
        # day 21: exactly the non-healing share of the burn is still open
        non_healing = (last.depth >= DepthClass.SUPERFICIAL) & (last.healing == 0)
        np.testing.assert_array_equal(last.wound_mask > 0, non_healing)
        assert all(b <= a + 0.05 for a, b in pairwise(open_area[1:]))
        par = series[0].reference.percent_area_reduction_4w
        assert par is not None
        assert 100 * (1 - open_area[-1]) == pytest.approx(par, abs=10)
        assert series[0].reference.healed_within_21_days == (par >= 50)


def test_ulcer_area_follows_its_course(ulcers: list[Capture]) -> None:
    for start in range(0, len(ulcers), 6):
        series = ulcers[start : start + 6]
        subject = make_ulcer_subject(2, start // 6, CLEAN)
        course = subject.course
        ref = series[0].reference
        assert ref.percent_area_reduction_4w == round(course.percent_area_reduction(4), 1)
        assert ref.healed_by_12_weeks == course.healed_by_12_weeks
        for c in series:
            assert c.truth is not None and c.truth.wound_mask is not None
            assert c.truth.depth is None and c.truth.healing is not None
            week = (c.metadata.days_since_first_visit or 0) / 7
            seen = c.truth.wound_mask.sum() * CLEAN.spacing_mm**2 / 100
            true = course.area_cm2(week)
            # pose (scale within 5 %) and pixelation are the measurement noise
            assert seen == pytest.approx(true, rel=0.2, abs=0.08), (week, seen, true)


def test_ulcer_courses_reproduce_sheehan(courses: list[tuple[UlcerPhysiology, object]]) -> None:
    par = np.array([c.percent_area_reduction(4) for _, c in courses])  # type: ignore[attr-defined]
    healed = np.array([c.healed_by_12_weeks for _, c in courses])  # type: ignore[attr-defined]
    # Sheehan 2003: percent area reduction at 4 weeks 82 % (95 % CI 70-94) in healers, 25 %
    # (15-35) in non-healers; above the 4-week median 58 % healed by week 12, below it 9 %.
    assert 70 <= par[healed].mean() <= 94
    assert 15 <= par[~healed].mean() <= 36
    median = np.median(par)
    assert 0.45 <= healed[par > median].mean() <= 0.75
    assert healed[par <= median].mean() <= 0.15
    assert 0.25 <= healed.mean() <= 0.5
    assert (par < 0).any()  # some ulcers grow
    # Closed means closed: no area left at week 12 for healed ulcers.
    assert all(c.area_cm2(12) == 0 for _, c in courses if c.healed_by_12_weeks)  # type: ignore[attr-defined]


def test_periwound_physiology_in_range_and_it_causes_the_outcome(
    courses: list[tuple[UlcerPhysiology, object]],
) -> None:
    phys = [p for p, _ in courses]
    responders = np.array([c.percent_area_reduction(4) >= 50 for _, c in courses])  # type: ignore[attr-defined]
    sto2 = np.array([p.periwound_sto2 for p in phys])
    assert all(PERIWOUND_STO2_RANGE[0] <= s <= PERIWOUND_STO2_RANGE[1] for s in sto2)
    assert all(
        BLOOD_FRACTION_RANGE[0] <= p.periwound_blood <= BLOOD_FRACTION_RANGE[1] for p in phys
    )
    assert all(
        WATER_FRACTION_RANGE[0] <= p.periwound_water <= WATER_FRACTION_RANGE[1] for p in phys
    )
    assert all(CALLUS_MM_RANGE[0] <= p.callus_mm <= CALLUS_MM_RANGE[1] for p in phys)
    # Healers' periwound StO2 above the 48.5 % cut-off, non-healers' around it.
    assert sto2[responders].mean() > VIABLE_STO2 + 0.08
    assert abs(sto2[~responders].mean() - VIABLE_STO2) < 0.05
    # Oximetry at the first visit is informative but not perfect (Nouvong 2009: 93 % / 86 %).
    assert 0.78 <= roc_auc_score(responders, sto2) <= 0.95
    for name in ("periwound_blood", "callus_mm", "periwound_water"):
        values = np.array([getattr(p, name) for p in phys])
        auc = roc_auc_score(responders, values)
        assert 0.55 <= max(auc, 1 - auc) <= 0.8, name  # each a weak cue on its own


def test_rendered_periwound_spectra_follow_oximetry_and_skin_tone_masks_it() -> None:
    subject = make_ulcer_subject(0, 0, CLEAN)
    fields = subject.fields
    rng = np.random.default_rng(0)
    wl = np.asarray(CLEAN.wavelengths_nm)
    ring = (fields.rho > 9.0) & (fields.rho < 12.0) & (fields.foot > 0)

    def periwound(sto2: float, melanin: float) -> np.ndarray:
        phys = UlcerPhysiology(0.0, sto2, 0.012, 0.70, 0.2, 0.6, 0.010, 0.03, 0.1)
        params = ulcer_tissue_maps(
            fields,
            phys,
            radius_mm=8.0,
            first_radius_mm=8.0,
            melanin_fraction=melanin,
            rng=rng,
            micro_variation=0.0,
        )
        cube = tissue_reflectance(wl, **{k: v for k, v in params.items()})  # type: ignore[arg-type]
        return np.asarray(cube[:, ring].mean(axis=1))

    healer, stalled = periwound(0.65, 0.02), periwound(0.45, 0.02)
    assert ((healer > 0.02) & (healer < 0.8)).all() and ((stalled > 0.02) & (stalled < 0.8)).all()
    i660, i820 = list(wl).index(660.0), list(wl).index(820.0)
    # deoxy-haemoglobin absorbs ~10x more than oxy at 660 nm, about the same at 820 nm (Prahl)
    assert healer[i660] / healer[i820] > stalled[i660] / stalled[i820]
    assert abs(healer[i820] - stalled[i820]) / healer[i820] < 0.05
    # In the visible, skin tone (Fitzpatrick I vs VI on a sole) moves reflectance more than StO2.
    darker = periwound(0.65, 0.12)
    i525 = list(wl).index(525.0)
    assert abs(healer[i525] - darker[i525]) > 3 * abs(healer[i525] - stalled[i525])


def test_no_single_band_or_ratio_gives_the_outcome_away() -> None:
    cfg = PhantomConfig(height=48, width=48, spacing_mm=1.0)
    captures = list(synth_series(kind="dfu", subjects=100, visits=1, seed=3, config=cfg))
    spectra, responders = [], []
    for c in captures:
        assert c.truth is not None and c.truth.wound_mask is not None
        bed = c.truth.wound_mask > 0
        ring = ndimage.binary_dilation(bed, iterations=6) & ~bed
        spectra.append(c.cube[:, ring].mean(axis=1))
        responders.append((c.reference.percent_area_reduction_4w or 0) >= 50)
    x, y = np.log(np.array(spectra)), np.array(responders)
    assert 0.3 < y.mean() < 0.7
    aucs = [roc_auc_score(y, x[:, i]) for i in range(x.shape[1])]
    aucs += [roc_auc_score(y, x[:, i] - x[:, j]) for i, j in combinations(range(x.shape[1]), 2)]
    best = max(max(a, 1 - a) for a in aucs)
    assert 0.6 < best < 0.85  # informative, not decisive
    model = LogisticRegression(C=10.0, max_iter=5000)
    cv = cross_val_score(model, x, y, cv=5, scoring="roc_auc").mean()
    assert cv > 0.65  # the bands together carry the periwound physiology
