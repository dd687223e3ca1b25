"""The time-to-result fast paths give the same answers as the straightforward code.

In-memory TIFF encoding (pixels copied into a reserved area) vs tifffile writing a file; the
block means (rows first) vs ``reshape(...).mean``; the gate's percentiles vs ``np.percentile``;
the ingest thread's lower priority; the sub-pixel registration at reduced resolution.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from wound.capture import Capture
from wound.io import encode_capture_tiff, write_capture
from wound.io.preview import _block_mean as preview_block_mean
from wound.phantom import PhantomConfig, synth_capture
from wound.pipeline import lower_thread_priority
from wound.quality import _block_mean, _percentiles, band_shifts, check_quality


@pytest.fixture(scope="module")
def phantom() -> Capture:
    return synth_capture(
        seed=4, subject_index=2, capture_index=0, config=PhantomConfig(height=96, width=120)
    )


@pytest.mark.parametrize("truth", [True, False])
def test_in_memory_tiff_equals_the_file_tifffile_writes(
    phantom: Capture, tmp_path: Path, truth: bool
) -> None:
    capture = phantom if truth else dataclasses.replace(phantom, truth=None)
    path = write_capture(capture, tmp_path / "c.tif")  # tifffile streams the array itself
    assert encode_capture_tiff(capture) == path.read_bytes()
    assert encode_capture_tiff(capture, compression="zlib") != path.read_bytes()


@pytest.mark.parametrize(("shape", "factor"), [((3, 40, 52), 4), ((2, 9, 7), 2), ((1, 5, 5), 1)])
def test_block_means_equal_reshape_mean(shape: tuple[int, int, int], factor: int) -> None:
    cube = np.random.default_rng(1).random(shape, dtype=np.float32)
    c, h, w = shape
    hh, ww = h // factor, w // factor
    want = cube[:, : hh * factor, : ww * factor].reshape(c, hh, factor, ww, factor).mean((2, 4))
    np.testing.assert_allclose(_block_mean(cube, factor), want, rtol=1e-6)
    assert _block_mean(cube, factor).dtype == np.float32
    long_side = -(-max(h, w) // factor)  # the preview picks the factor from max_size
    np.testing.assert_allclose(preview_block_mean(cube, long_side), want, rtol=1e-6)


def test_percentiles_equal_numpy() -> None:
    rows = np.random.default_rng(2).random((4, 1001), dtype=np.float32)
    for got, q in zip(_percentiles(rows, 1.0, 99.0, 50.0), (1, 99, 50), strict=True):
        np.testing.assert_allclose(got, np.percentile(rows, q, axis=1), rtol=1e-6)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is a Linux feature")
def test_ingest_thread_runs_at_lower_priority() -> None:
    seen: dict[str, int] = {}

    def worker() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        lower_thread_priority(5)
        seen["delta"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before

    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["delta"] == min(5, 19 - main)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # caller untouched


@pytest.fixture(scope="module")
def large() -> Capture:
    """A 384 x 512 capture (registered at 1/2 resolution): the phantom, upsampled 4x, without
    its own band-to-band jitter so the only shift is the one a test adds."""
    config = PhantomConfig(height=96, width=128, misregistration_px=0.0)
    small = synth_capture(seed=6, subject_index=1, capture_index=0, config=config)
    cube = ndimage.zoom(small.cube, (1, 4, 4), order=1).astype(np.float32)
    return dataclasses.replace(small, cube=cube, truth=None, spacing_mm=small.spacing_mm)


@pytest.mark.parametrize("shift", [(1.5, -1.0), (2.0, 2.0), (-3.0, 3.5), (5.0, -2.5)])
def test_registration_at_reduced_resolution_is_subpixel(
    large: Capture, shift: tuple[float, float]
) -> None:
    cube = large.cube.copy()
    cube[5] = ndimage.shift(cube[5], shift, order=1, mode="nearest")
    shifts, reliable = band_shifts(cube, size=192)  # factor 2
    assert reliable.all()
    assert shifts[5] == pytest.approx(np.hypot(*shift), abs=0.6)
    assert np.delete(shifts, 5).max() < 0.6
    verdict = check_quality(
        dataclasses.replace(large, cube=cube),
        limits=check_quality(large).limits.model_copy(
            update={"registration_size": 192, "min_registration_px": 0}
        ),
    )
    assert verdict.ok == (np.hypot(*shift) <= 3.0), verdict.reasons


@pytest.mark.parametrize(
    ("shape", "roi"),
    [((2, 3, 32, 40), (32, 40)), ((1, 3, 29, 37), (32, 40)), ((3, 3, 8, 8), (16, 8))],
)
def test_whole_window_equals_monai_sliding_window(
    shape: tuple[int, int, int, int], roi: tuple[int, int]
) -> None:
    """One window covering the image: pad, one forward, crop == MONAI's Gaussian-blended
    inferer (padding placed as MONAI places it; the blend of one window is the identity)."""
    import torch
    from monai.inferers import SlidingWindowInferer

    from wound.predict import whole_window

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 3, padding=1)
    ).eval()
    x = torch.randn(shape)
    inferer = SlidingWindowInferer(roi_size=roi, sw_batch_size=8, overlap=0.25, mode="gaussian")
    with torch.inference_mode():
        want = inferer(x, net)
        got = whole_window(net, x, roi)
    assert isinstance(want, torch.Tensor)
    assert got.shape == want.shape == (shape[0], 2, *shape[2:])
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
