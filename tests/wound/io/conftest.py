"""Fixtures for the I/O tests: small seeded captures."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pytest

from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData

WAVELENGTHS = (460.0, 520.0, 550.0, 600.0, 640.0, 700.0, 780.0, 850.0)
SUBJECT = "sub-0123456789abcdef0123"
WOUND = "wnd-aaaaaaaaaaaaaaaaaaaa"  # as stored: wound labels are pseudonymised on read


@pytest.fixture
def make_capture() -> Callable[..., Capture]:
    def make(
        bands: int = 8,
        height: int = 24,
        width: int = 32,
        *,
        truth: bool = True,
        seed: int = 0,
        capture_id: str | None = "dev-0001",
    ) -> Capture:
        rng = np.random.default_rng(seed)
        cube = rng.random((bands, height, width), dtype=np.float32)
        gt = None
        if truth:
            gt = GroundTruth(
                depth=rng.integers(0, 6, (height, width), dtype=np.uint8),
                wound_mask=(rng.random((height, width)) > 0.5).astype(np.uint8),
            )
        return Capture(
            cube=cube,
            wavelengths=WAVELENGTHS[:bands],
            metadata=CaptureMetadata(
                capture_id=capture_id,
                subject=SUBJECT,
                wound_id=WOUND,
                captured_at=datetime(2026, 1, 31, 10, 0, tzinfo=UTC),
                anatomical_site="forearm",
                days_since_injury=2.5,
            ),
            spacing_mm=0.2,
            reference=ReferenceData(biopsy_depth_class=3, notes="test"),
            truth=gt,
        )

    return make
