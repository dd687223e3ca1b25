"""The capture model: validation, identity, JSON round trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from wound.capture import Capture, CaptureMetadata, ReferenceData
from wound.errors import (
    BandMismatchError,
    DimensionLimitError,
    MetadataError,
    NonFiniteValuesError,
    NotReflectanceError,
)
from wound.pseudonym import is_pseudonym, pseudonymise, pseudonymise_wound


def make(cube: np.ndarray | None = None, **meta: object) -> Capture:
    if cube is None:
        cube = np.random.default_rng(0).uniform(0.1, 0.9, (3, 4, 5)).astype(np.float32)
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


def test_identity_is_made_by_the_platform_from_device_id_else_content() -> None:
    device = make(capture_id="John_Smith_MRN_123456")
    assert device.identity().startswith("cap-") and "123456" not in device.identity()
    assert (
        device.identity()
        == make(
            np.full((3, 4, 5), 0.3, np.float32) + make().cube, capture_id="John_Smith_MRN_123456"
        ).identity()
    )
    assert (
        device.content_digest()
        != make(capture_id="John_Smith_MRN_123456", wound_id="w9").content_digest()
    )
    a, b = make(), make()
    assert a.identity() == b.identity() and a.identity().startswith("cap-")
    assert len(a.identity()) == 36
    cube = np.random.default_rng(1).uniform(0.1, 0.9, (3, 4, 5)).astype(np.float32)
    assert make(cube).identity() != a.identity()
    assert make(wound_id="w2").identity() != a.identity()


def test_time_from_file_mtime_is_not_part_of_the_identity() -> None:
    a = make(captured_at_source="file_mtime")
    b = make(captured_at=datetime(2027, 5, 5, tzinfo=UTC), captured_at_source="file_mtime")
    assert a.identity() == b.identity() and a.content_digest() == b.content_digest()
    assert make().identity() != make(captured_at=datetime(2027, 5, 5, tzinfo=UTC)).identity()


@pytest.mark.parametrize(
    "value",
    ["dev-1\n", "dev\x00-1", " dev-1", "w\ud800", "x" * 129, "", "a\u202eb", "\x1b[31mred"],
)
@pytest.mark.parametrize("field", ["capture_id", "wound_id", "device_id", "anatomical_site"])
def test_identifiers_must_be_printable_and_bounded(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(**{field: value})
    assert "printable" in str(info.value)


@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1899-12-31T23:00:00Z"],
)
def test_out_of_range_capture_times_are_refused_not_crashed(when: str) -> None:
    with pytest.raises(ValidationError, match="years 1900-2199"):
        CaptureMetadata.model_validate({"subject": "sub-x", "captured_at": when})


@pytest.mark.parametrize(
    "meta",
    [{"days_since_injury": float("inf")}, {"melanin_fraction": float("nan")}],
)
def test_non_finite_metadata_numbers_are_refused(meta: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        make(**meta)


def test_free_text_refuses_surrogates_and_control_characters() -> None:
    assert ReferenceData(notes="line one\nline two\tok").notes
    for bad in ("w\ud800", "bell\x07", "x" * 10_001):
        with pytest.raises(ValidationError):
            ReferenceData(clinician_assessment=bad)


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


OUTLIER = np.random.default_rng(0).uniform(0.1, 0.9, (3, 20, 20)).astype(np.float32)
OUTLIER[0, 0, 0] = 3e38  # one absurd value among plausible ones


@pytest.mark.parametrize(
    ("cube", "match"),
    [
        (np.zeros((3, 4, 5), np.float32), "blank"),
        (np.full((3, 4, 5), 0.7, np.float32), "blank"),
        (np.full((3, 4, 5), 3e38, np.float32), "blank"),
        (-np.random.default_rng(0).random((3, 4, 5), np.float32), "negative"),
        (4095 * np.random.default_rng(0).random((3, 4, 5), np.float32), "raw counts"),
        (OUTLIER, "not refl"),
    ],
)
def test_non_reflectance_data_are_refused(cube: np.ndarray, match: str) -> None:
    with pytest.raises(NotReflectanceError, match=match):
        make(cube).validate("scan.tif")


def test_non_finite_values_are_refused() -> None:
    cube = np.full((3, 4, 5), 0.5, np.float32)
    cube[1, 2, 3] = np.nan
    with pytest.raises(NonFiniteValuesError, match="1 non-finite"):
        make(cube).validate("scan.tif")


def test_implausible_spacing_is_refused() -> None:
    with pytest.raises(MetadataError, match="spacing"):
        dataclasses.replace(make(), spacing_mm=-1.0).validate("scan.tif")


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(st.characters(exclude_categories=()), max_size=140))
@example(text="w\ud800")
@example(text="dev-1\n")
def test_any_text_as_an_id_is_either_refused_or_storable(text: str) -> None:
    """Whatever text a file holds: a ValidationError, or metadata that serialises to JSON."""
    for field in ("capture_id", "wound_id", "device_id", "anatomical_site"):
        try:
            meta = CaptureMetadata(
                subject="sub-x", captured_at=datetime(2026, 1, 2, tzinfo=UTC), **{field: text}
            )
        except ValidationError:
            continue
        assert json.loads(meta.model_dump_json())[field] == text


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(st.characters(exclude_categories=()), max_size=300))
@example(text="w\ud800")
def test_any_text_as_a_subject_is_either_refused_or_pseudonymised(text: str) -> None:
    try:
        pseudonym = pseudonymise(text, b"k")
    except ValueError as exc:
        assert text.strip() not in str(exc) or not text.strip()
        return
    assert is_pseudonym(pseudonym)
    assert is_pseudonym(pseudonymise_wound(text, pseudonym, b"k"), prefix="wnd-")
