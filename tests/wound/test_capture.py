"""The capture model: validation, identity, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from pydantic import ValidationError

from wound.capture import Capture, CaptureMetadata, ReferenceData
from wound.errors import (
    BandMismatchError,
    DimensionLimitError,
    MetadataError,
    NonFiniteValuesError,
)


def make(cube: np.ndarray | None = None, **meta: object) -> Capture:
    cube = np.full((3, 4, 5), 0.5, np.float32) if cube is None else cube
    fields = {
        "subject": "sub-0123456789abcdef0123",
        "captured_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    fields.update(meta)
    return Capture(cube=cube, wavelengths=(450.0, 550.0, 610.0), metadata=CaptureMetadata(**fields))


def test_valid_capture_passes_and_header_round_trips() -> None:
    capture = make(
        capture_id="dev-1", device_id="cam-7", days_since_injury=2, anatomical_site="forearm"
    )
    capture = dataclasses.replace(
        capture, spacing_mm=0.5, reference=ReferenceData(biopsy_depth_class=4, notes="x")
    )
    capture.validate("f.tif")
    header = json.loads(capture.header_json())
    again = Capture.from_header(header, capture.cube)
    assert again.metadata == capture.metadata
    assert again.reference == capture.reference
    assert again.wavelengths == capture.wavelengths and again.spacing_mm == 0.5


def test_captured_at_is_normalised_to_utc_and_naive_is_refused() -> None:
    local = datetime(2026, 1, 2, 12, tzinfo=timezone(timedelta(hours=2)))
    assert make(captured_at=local).metadata.captured_at.hour == 10
    with pytest.raises(ValidationError, match="time zone"):
        make(captured_at=datetime(2026, 1, 2))


def test_identity_is_device_id_else_content_hash() -> None:
    assert make(capture_id="dev-1").identity() == "dev-1"
    a, b = make(), make()
    assert a.identity() == b.identity() and a.identity().startswith("cap-")
    cube = np.full((3, 4, 5), 0.25, np.float32)
    assert make(cube).identity() != a.identity()
    assert make(wound_id="w2").identity() != a.identity()


def test_unsafe_capture_id_is_refused() -> None:
    with pytest.raises(ValidationError):
        make(capture_id="../etc/passwd")


@pytest.mark.parametrize(
    ("cube", "wavelengths", "error"),
    [
        (np.zeros((2, 4, 5), np.float32), (450.0, 550.0, 610.0), BandMismatchError),
        (np.zeros((3, 4, 5), np.float32), (610.0, 550.0, 450.0), BandMismatchError),
        (np.zeros((3, 4, 5), np.float32), (45.0, 55.0, 61.0), BandMismatchError),
        (np.zeros((3, 4, 5), np.float64), (450.0, 550.0, 610.0), BandMismatchError),
        (np.zeros((3, 0, 5), np.float32), (450.0, 550.0, 610.0), DimensionLimitError),
    ],
)
def test_invalid_cubes_name_the_source(
    cube: np.ndarray, wavelengths: tuple[float, ...], error: type[Exception]
) -> None:
    capture = dataclasses.replace(make(), cube=cube, wavelengths=wavelengths)
    with pytest.raises(error, match=r"^scan\.tif: "):
        capture.validate("scan.tif")


def test_non_finite_values_are_refused() -> None:
    cube = np.full((3, 4, 5), 0.5, np.float32)
    cube[1, 2, 3] = np.nan
    with pytest.raises(NonFiniteValuesError, match="1 non-finite"):
        make(cube).validate("scan.tif")


def test_implausible_spacing_is_refused() -> None:
    with pytest.raises(MetadataError, match="spacing"):
        dataclasses.replace(make(), spacing_mm=-1.0).validate("scan.tif")
