"""Store test helpers: small hand-built captures and raw object access behind the store's back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

import boto3
import numpy as np
import pytest

from wound.capture import Capture, CaptureMetadata, GroundTruth, ReferenceData
from wound.pseudonym import pseudonymise
from wound.store import AwsStore, CaptureStore, LocalStore

SUBJECT = pseudonymise("patient-1", b"k")
OTHER_SUBJECT = pseudonymise("patient-2", b"k")
WAVELENGTHS = (540.0, 660.0, 800.0, 850.0)
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class NewCapture(Protocol):
    def __call__(
        self,
        n: int = 0,
        *,
        subject: str = SUBJECT,
        wound_id: str = "w1",
        capture_id: str | None = None,
        truth: bool = True,
    ) -> Capture: ...


@pytest.fixture
def new_capture() -> NewCapture:
    """Capture number ``n``: 4 bands x 16 x 16, seeded by ``n``, captured ``n`` hours after T0."""

    def make(
        n: int = 0,
        *,
        subject: str = SUBJECT,
        wound_id: str = "w1",
        capture_id: str | None = None,
        truth: bool = True,
    ) -> Capture:
        rng = np.random.default_rng(n)
        cube = rng.uniform(0.05, 0.95, (4, 16, 16)).astype(np.float32)
        gt = None
        if truth:
            gt = GroundTruth(
                depth=rng.integers(0, 6, (16, 16), dtype=np.uint8),
                healing=rng.integers(0, 2, (16, 16), dtype=np.uint8),
            )
        return Capture(
            cube=cube,
            wavelengths=WAVELENGTHS,
            metadata=CaptureMetadata(
                capture_id=capture_id,
                subject=subject,
                wound_id=wound_id,
                captured_at=T0 + timedelta(hours=n),
                days_since_injury=1.5,
                source="test",
            ),
            spacing_mm=0.25,
            reference=ReferenceData(biopsy_depth_class=4, healed_within_21_days=False),
            truth=gt,
        )

    return make


class Backdoor:
    """Change objects without the store knowing (to test integrity checks)."""

    def __init__(self, store: CaptureStore) -> None:
        self.store = store
        self.s3 = boto3.client("s3") if isinstance(store, AwsStore) else None

    def put(self, key: str, data: bytes) -> None:
        if isinstance(self.store, LocalStore):
            path = self.store.home / "objects" / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        else:
            assert isinstance(self.store, AwsStore) and self.s3 is not None
            self.s3.put_object(Bucket=self.store.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        if isinstance(self.store, LocalStore):
            (self.store.home / "objects" / key).unlink()
        else:
            assert isinstance(self.store, AwsStore) and self.s3 is not None
            self.s3.delete_object(Bucket=self.store.bucket, Key=key)

    def close(self) -> None:
        if self.s3 is not None:
            self.s3.close()


@pytest.fixture
def backdoor(store: CaptureStore) -> Iterator[Backdoor]:
    door = Backdoor(store)
    yield door
    door.close()
