"""The input-quality gate: each refusal, and a pass for phantom captures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from wound.capture import Capture
from wound.phantom import PhantomConfig, synth_capture
from wound.quality import QualityLimits, band_shifts, check_quality

CONFIG = PhantomConfig(height=128, width=128)
DEVICE = PhantomConfig(height=1024, width=1280)  # the camera's frame size


@pytest.fixture(scope="module")
def phantom() -> Capture:
    return synth_capture(seed=3, subject_index=1, capture_index=0, config=CONFIG)


@pytest.fixture(scope="module")
def device_capture() -> Capture:
    return synth_capture(seed=3, subject_index=1, capture_index=0, config=DEVICE)


def with_cube(capture: Capture, cube: np.ndarray) -> Capture:
    return dataclasses.replace(capture, cube=np.ascontiguousarray(cube, dtype=np.float32))


def codes(capture: Capture, **kw: object) -> list[str]:
    verdict = check_quality(capture, wavelengths=kw.pop("wavelengths", capture.wavelengths))
    assert verdict.ok == (not verdict.reasons)
    return [r.code for r in verdict.reasons]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_phantom_captures_pass(seed: int) -> None:
    capture = synth_capture(seed=seed, subject_index=seed, capture_index=seed, config=CONFIG)
    verdict = check_quality(capture, wavelengths=capture.wavelengths)
    assert verdict.ok, verdict.reasons
    # too small for a reliable registration estimate: flagged, not refused
    assert [f.code for f in verdict.flags] == ["registration-not-checked"]


@pytest.mark.parametrize("seed", [0, 10])
def test_device_size_phantom_passes(seed: int) -> None:
    capture = synth_capture(seed=seed, subject_index=0, capture_index=0, config=DEVICE)
    verdict = check_quality(capture, wavelengths=capture.wavelengths)
    assert verdict.ok, verdict.reasons  # seed 10 was once taken for pure noise
    assert verdict.metrics["band_shift_max_px"] < 3.0


def test_wrong_wavelengths_refused(phantom: Capture) -> None:
    shifted = tuple(w + 12 for w in phantom.wavelengths)
    verdict = check_quality(phantom, wavelengths=shifted)
    assert not verdict.ok
    assert [r.code for r in verdict.reasons] == ["wavelengths"]
    assert "nm" in verdict.reasons[0].message
    # within the tolerance: fine
    assert check_quality(phantom, wavelengths=tuple(w + 2 for w in phantom.wavelengths)).ok


def test_band_count_mismatch_refused(phantom: Capture) -> None:
    verdict = check_quality(phantom, wavelengths=phantom.wavelengths[:6])
    assert not verdict.ok
    assert "8 bands" in verdict.reasons[0].message and "expects 6" in verdict.reasons[0].message


def test_saturated_refused(phantom: Capture) -> None:
    assert "saturated" in codes(with_cube(phantom, np.clip(phantom.cube * 3, 0, 1)))


def test_dark_refused(phantom: Capture) -> None:
    assert codes(with_cube(phantom, phantom.cube * 0.03)) == ["too-dark"]


def test_misregistered_band_refused(device_capture: Capture) -> None:
    cube = device_capture.cube.copy()
    cube[4] = np.roll(cube[4], 6, axis=1)
    verdict = check_quality(with_cube(device_capture, cube), wavelengths=device_capture.wavelengths)
    assert [r.code for r in verdict.reasons] == ["misregistered"]
    assert "band 4" in verdict.reasons[0].message


def test_band_shift_estimate_is_accurate(phantom: Capture) -> None:
    cube = phantom.cube.copy()
    cube[2] = np.roll(cube[2], (-4, 3), axis=(0, 1))
    shifts, reliable = band_shifts(cube)
    assert reliable[2]
    assert shifts[2] == pytest.approx(5.0, abs=1.5)


def test_blank_refused(phantom: Capture) -> None:
    rng = np.random.default_rng(0)
    cube = np.full_like(phantom.cube, 0.4) + rng.normal(0, 1e-4, phantom.cube.shape)
    assert codes(with_cube(phantom, cube)) == ["blank"]


def test_pure_noise_refused(phantom: Capture) -> None:
    rng = np.random.default_rng(0)
    assert codes(with_cube(phantom, rng.uniform(0.05, 0.9, phantom.cube.shape))) == ["noise"]


def test_several_reasons_reported(phantom: Capture) -> None:
    verdict = check_quality(
        with_cube(phantom, phantom.cube * 0.03),
        wavelengths=tuple(w + 30 for w in phantom.wavelengths),
    )
    assert {r.code for r in verdict.reasons} == {"wavelengths", "too-dark"}
    assert verdict.summary().startswith("refused: ")


def test_limits_are_configurable(phantom: Capture) -> None:
    strict = QualityLimits(min_bright_level=0.99)
    verdict = check_quality(phantom, limits=strict)
    assert [r.code for r in verdict.reasons] == ["too-dark"]
    assert verdict.limits == strict
    dumped = verdict.model_dump(mode="json")
    assert dumped["ok"] is False and dumped["limits"]["min_bright_level"] == 0.99
