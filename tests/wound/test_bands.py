"""The one wavelength check, its tolerance, and the places that use it."""

from __future__ import annotations

import pytest

from wound.bands import WAVELENGTH_TOLERANCE_NM, check_wavelengths, wavelength_mismatch
from wound.errors import BandMismatchError
from wound.quality import QualityLimits

MODEL = (420.0, 525.0, 581.0, 620.0)


def test_within_tolerance_is_the_same_band_set() -> None:
    assert WAVELENGTH_TOLERANCE_NM == 5.0
    assert wavelength_mismatch(MODEL, MODEL) is None
    assert wavelength_mismatch((425.0, 520.0, 581.0, 620.0), MODEL) is None  # exactly 5 nm
    check_wavelengths((424.9, 525.0, 581.0, 620.0), MODEL)


def test_beyond_tolerance_names_the_band() -> None:
    problem = wavelength_mismatch((420.0, 525.0, 587.0, 620.0), MODEL)
    assert problem == "band 2 is 587 nm, the model expects 581 nm (tolerance 5 nm)"
    with pytest.raises(BandMismatchError, match=r"scan\.tif: wavelengths: band 2 is 587"):
        check_wavelengths((420.0, 525.0, 587.0, 620.0), MODEL, source="scan.tif")


def test_band_count_and_custom_tolerance() -> None:
    assert wavelength_mismatch(MODEL[:3], MODEL) == (
        "capture has 3 bands, the model expects 4 (420, 525, 581, 620 nm)"
    )
    assert wavelength_mismatch((421.0, 525.0, 581.0, 620.0), MODEL, tolerance_nm=0.5) is not None


def test_quality_gate_default_is_the_shared_tolerance() -> None:
    assert QualityLimits().wavelength_tolerance_nm == WAVELENGTH_TOLERANCE_NM
