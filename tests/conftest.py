"""Shared fixtures: a real ``moto_server`` process (AWS over HTTP), stores on both backends,
the shared data folder (tests marked ``data``) and a score record in its pre-``kind`` shape."""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reliability import servers
from wound.store import AwsStore, CaptureStore, LocalStore


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real moto_server on 127.0.0.1 (a free port) for the session; yields its endpoint URL."""
    log = tmp_path_factory.mktemp("moto") / "moto_server.log"
    try:
        with servers.moto_server(log, timeout=30) as endpoint:
            yield endpoint
    except servers.ServerDidNotStart as exc:
        pytest.fail(str(exc))


@pytest.fixture
def aws_env(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """boto3's standard variables pointed at the moto server (restored after the test)."""
    nowhere = tmp_path_factory.getbasetemp() / "no-aws-config"
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(nowhere))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(nowhere))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto_server


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["local", pytest.param("aws", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaptureStore]:
    """An initialised, empty store: a fresh folder, or a fresh bucket and table prefix."""
    made: LocalStore | AwsStore
    if request.param == "local":
        made = LocalStore(tmp_path / "wound-home")
    else:
        request.getfixturevalue("aws_env")
        made = AwsStore(unique_name("wound-test"), unique_name("wt"))
    made.init()
    with made:
        yield made


# --- the shared data folder (real data sets; not part of the checkout) ----------------------
#: Where the shared data folder sits: beside the checkout, ``../shared/data``.
DEFAULT_SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_root() -> Path:
    """``$WOUND_SHARED_DATA`` when set, else ``../shared/data`` beside the checkout."""
    override = os.environ.get("WOUND_SHARED_DATA")
    return Path(override) if override else DEFAULT_SHARED_DATA


def require_shared_data(name: str, *, test: str = "this test") -> Path:
    """The data set folder ``name`` under :func:`shared_data_root`.

    Absent: ``test`` is skipped with a reason naming it and the folder, or fails when
    ``WOUND_REQUIRE_DATA=1`` (CI sets it, so a missing folder cannot pass as skips).
    """
    folder = shared_data_root() / name
    if folder.is_dir():
        return folder
    message = (
        f"{test} needs the shared data folder {folder}, which is absent "
        f"(set WOUND_SHARED_DATA to the folder that holds {name}/)"
    )
    if os.environ.get("WOUND_REQUIRE_DATA") == "1":
        pytest.fail(f"{message}; WOUND_REQUIRE_DATA=1 requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def shared_data(request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """``shared_data("fuseg2021-train")`` -> that folder, or skip/fail (tests marked ``data``)."""
    return functools.partial(require_shared_data, test=request.node.nodeid)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses ``shared_data`` must be marked ``data`` (so ``-m "not data"`` works)."""
    unmarked = [
        item.nodeid
        for item in items
        if "shared_data" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("data") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests using the shared_data fixture must be marked @pytest.mark.data: "
            + ", ".join(unmarked)
        )


# --- stored scores -------------------------------------------------------------------------
@pytest.fixture
def old_score_record() -> dict[str, Any]:
    """A wound score as stored before the ``kind`` discriminator (the dict that code wrote)."""
    return {
        "refused": False,
        "capture_id": "cap-old",
        "task": "burn-depth",
        "model_id": "m-old",
        "model_version": "v0",
        "unit": "cm2",
        "spacing_mm": 0.5,
        "pixel_area": 0.0025,
        "shape": [40, 40],
        "wound_pixels": 300,
        "wound_area": 0.75,
        "classes": [
            {
                "class_id": 3,
                "name": "superficial partial thickness",
                "pixels": 200,
                "area": 0.5,
                "share": 0.6666666666666666,
            },
            {
                "class_id": 4,
                "name": "deep partial thickness",
                "pixels": 100,
                "area": 0.25,
                "share": 0.3333333333333333,
            },
        ],
        "non_healing_pixels": 100,
        "non_healing_area": 0.25,
        "non_healing_share": 0.3333333333333333,
        "non_healing_contours": [
            {
                "points_px": [[4.5, 4.5], [4.5, 14.5], [14.5, 14.5], [14.5, 4.5], [4.5, 4.5]],
                "points_mm": [[2.25, 2.25], [2.25, 7.25], [7.25, 7.25], [7.25, 2.25], [2.25, 2.25]],
                "region_pixels": 100,
                "hole": False,
            }
        ],
        "indeterminate_pixels": 25,
        "indeterminate_area": 0.0625,
        "indeterminate_share": 0.08333333333333333,
        "healing_threshold": 0.5,
        "uncertainty_threshold": 0.5,
        "quality_flags": [],
        "quality_metrics": {},
        "timings_ms": {"predict": 12.0},
        "provenance": {},
        "note": "An aid to the clinician; the non-healing contour is not an excision margin.",
    }
