"""Physical sanity of the phantom's tissue optics against the literature."""

from __future__ import annotations

import numpy as np
import pytest

from wound.phantom.lesions import CLASS_PRESETS
from wound.phantom.optics import (
    blood_absorption,
    diffuse_reflectance,
    hemoglobin_extinction,
    melanin_absorption,
    reduced_scattering,
    tissue_reflectance,
    water_absorption,
)
from wound.taxonomy import DepthClass

# docs/references.md: Prahl's tabulation (cm^-1/M), HbO2 / Hb.
PRAHL_ANCHORS = {
    420: (480_360, 407_560),
    542: (53_292, 48_148),
    580: (50_104, 37_020),
    620: (942, 6_510),
    660: (320, 3_227),
    726: (372, 1_204),
    800: (816, 762),
    820: (916, 694),
    850: (1_058, 691),
}
HEALTHY = {
    "blood_fraction": 0.01,
    "saturation": 0.7,
    "melanin_fraction": 0.03,
    "water_fraction": 0.65,
}


@pytest.mark.parametrize("wavelength", sorted(PRAHL_ANCHORS))
def test_extinction_matches_prahl(wavelength: int) -> None:
    oxy, deoxy = hemoglobin_extinction([wavelength])
    want_oxy, want_deoxy = PRAHL_ANCHORS[wavelength]
    assert oxy[0] == pytest.approx(want_oxy, rel=0.02)
    assert deoxy[0] == pytest.approx(want_deoxy, rel=0.02)


def test_extinction_interpolates_between_table_rows() -> None:
    oxy, _ = hemoglobin_extinction([541.0])
    assert 53_236 <= oxy[0] <= 53_292  # between the 540 and 542 nm rows


def test_blood_absorption_uses_prahl_conversion() -> None:
    oxy, _ = blood_absorption([420.0])
    assert oxy[0] == pytest.approx(2.303 * 480_360 * 150 / 64_500, rel=1e-3)


def test_near_isosbestic_at_800nm() -> None:
    oxy, deoxy = hemoglobin_extinction([800.0])
    assert abs(oxy[0] - deoxy[0]) / deoxy[0] < 0.1


def test_wavelength_outside_tables_is_rejected() -> None:
    with pytest.raises(ValueError, match="400-900 nm"):
        hemoglobin_extinction([950.0])


def test_melanin_falls_steeply_and_water_rises_into_nir() -> None:
    mel = melanin_absorption([400.0, 800.0])
    assert mel[0] / mel[1] == pytest.approx(2**3.33, rel=1e-6)
    water = water_absorption([500.0, 850.0])
    assert water[1] > 50 * water[0]


def test_scattering_power_law() -> None:
    musp = reduced_scattering([500.0, 1000.0 / 1.25], 46.0, 1.421)
    assert musp[0] == pytest.approx(46.0)
    assert musp[1] == pytest.approx(46.0 * 1.6**-1.421)


def test_diffuse_reflectance_limits() -> None:
    r = diffuse_reflectance(np.array([0.0, 0.1, 10.0, 1000.0]), 20.0)
    assert r[0] == pytest.approx(1.0)
    assert (np.diff(r) < 0).all()
    assert r[-1] < 0.05


def test_reflectance_in_unit_interval_over_a_parameter_grid() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    r = tissue_reflectance(
        np.arange(400, 901, 25),
        blood_fraction=rng.uniform(0, 0.2, n),
        saturation=rng.uniform(0, 1, n),
        melanin_fraction=rng.uniform(0, 0.5, n),
        water_fraction=rng.uniform(0.3, 0.9, n),
        scatter_a=rng.uniform(5, 100, n),
        scatter_b=rng.uniform(0.5, 2, n),
        eschar_fraction=rng.uniform(0, 1, n),
    )
    assert r.shape == (21, n)
    assert np.isfinite(r).all() and (r >= 0).all() and (r <= 1).all()


def test_vectorised_shape_is_bands_first() -> None:
    blood = np.full((3, 4), 0.01)
    r = tissue_reflectance([420, 660, 855], **{**HEALTHY, "blood_fraction": blood})
    assert r.shape == (3, 3, 4)
    single = tissue_reflectance([420, 660, 855], **HEALTHY)
    assert single.shape == (3,)
    np.testing.assert_allclose(r[:, 1, 2], single)


def test_healthy_skin_has_haemoglobin_dip_and_rises_into_red_and_nir() -> None:
    wl = np.arange(500, 901, 2)
    r = tissue_reflectance(wl, **HEALTHY)
    dip = wl[np.argmin(r[(wl >= 500) & (wl <= 620)])]
    assert 536 <= dip <= 584
    at = dict(zip(wl.tolist(), r.tolist(), strict=True))
    assert at[660] > 1.5 * at[560]
    assert at[820] > at[580] and at[660] > at[600]
    assert 0.4 < at[820] < 0.8  # fair skin NIR reflectance


def test_deoxygenated_tissue_darker_at_660nm() -> None:
    oxy = tissue_reflectance([660], **{**HEALTHY, "saturation": 0.95})
    deoxy = tissue_reflectance([660], **{**HEALTHY, "saturation": 0.2})
    assert deoxy[0] < oxy[0] - 0.02


def test_melanin_darkens_visible_much_more_than_nir() -> None:
    light = tissue_reflectance([420, 525, 855], **{**HEALTHY, "melanin_fraction": 0.02})
    dark = tissue_reflectance([420, 525, 855], **{**HEALTHY, "melanin_fraction": 0.24})
    ratio = dark / light
    assert ratio[0] < 0.2 and ratio[1] < 0.5
    assert ratio[2] > 0.65
    assert ratio[2] - ratio[1] > 0.3


def test_full_thickness_has_less_blood_signal_than_superficial_partial() -> None:
    def reflectance(cls: DepthClass) -> np.ndarray:
        p = CLASS_PRESETS[cls]
        return tissue_reflectance(
            [560, 660, 855],
            blood_fraction=p.blood_fraction,
            saturation=p.saturation,
            melanin_fraction=0.03 * p.melanin_scale,
            water_fraction=p.water_fraction,
            scatter_a=p.scatter_a,
            scatter_b=p.scatter_b,
        )

    full, partial = (
        reflectance(DepthClass.FULL_THICKNESS),
        reflectance(DepthClass.SUPERFICIAL_PARTIAL),
    )
    # haemoglobin signal: depth of the 560 nm absorption relative to the NIR
    assert full[0] / full[2] > partial[0] / partial[2] + 0.1


def test_chin_2015_total_haemoglobin_ratios_in_presets() -> None:
    base = CLASS_PRESETS[DepthClass.HEALTHY].blood_fraction
    ratio = {c: p.blood_fraction / base for c, p in CLASS_PRESETS.items()}
    assert ratio[DepthClass.SUPERFICIAL_PARTIAL] == pytest.approx(1.67, abs=0.02)
    assert ratio[DepthClass.DEEP_PARTIAL] == pytest.approx(1.16, abs=0.02)
    assert ratio[DepthClass.FULL_THICKNESS] == pytest.approx(0.36, abs=0.02)
    sat = [CLASS_PRESETS[c].saturation for c in (3, 4, 5)]
    assert sat == sorted(sat, reverse=True)
    scatter = [CLASS_PRESETS[c].scatter_a for c in (1, 2, 3, 4, 5)]
    assert scatter == sorted(scatter, reverse=True)


def test_invalid_tissue_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="saturation"):
        tissue_reflectance([660], **{**HEALTHY, "saturation": 1.5})
