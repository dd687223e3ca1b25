"""A seeded embedded store for the dashboard tests, built once per session and copied per test.

The store: a phantom cohort (3 subjects x 3 captures, 64 px) and a burn followed over 4 visits,
written as TIFF files and ingested
like a user would (``wound.ingest``), a tiny model trained on the phantom (the training tests'
``TINY`` run, one epoch), evaluated beside the
spectral baseline and registered twice (two models to compare), two captures already scored,
and an annotation with two versions.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_cohort, synth_series
from wound.store import LocalStore

PSEUDONYM_KEY = "dashboard-test-key"
SIZE = 64
MODEL_A = "burn-depth-tiny-a"
MODEL_B = "burn-depth-tiny-b"


@pytest.fixture(autouse=True)
def keep_main_module() -> Iterator[None]:
    """AppTest runs each page as ``__main__`` and leaves its temporary script module in
    ``sys.modules``; multiprocessing's spawn start method re-imports ``__main__`` in every child,
    so a later test's process pool would respawn dying workers forever. Put it back."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def phantom_files(folder: Path) -> list[Path]:
    """3 subjects x 3 captures, and one burn followed over 4 visits (subject phantom-burn000)."""
    config = PhantomConfig(height=SIZE, width=SIZE)
    cohort = synth_cohort(subjects=3, captures_per_subject=3, seed=11, config=config)
    series = synth_series(kind="burn", subjects=1, visits=4, seed=2, config=config)
    return [write_capture(c, folder / f"{c.identity()}.tif") for c in [*cohort, *series]]


def _register_tiny_models(store: LocalStore, run_dir: Path) -> None:
    from tests.training.conftest import TINY
    from training.config import RunConfig
    from training.evaluate import evaluate_model
    from training.registry import register_model
    from training.run import train

    result = train(RunConfig.model_validate({**TINY, "epochs": 1, "output_dir": str(run_dir)}))
    report = evaluate_model(
        result.model,
        result.model_info,
        result.val_captures(),
        result.train_captures(),
        model_id=MODEL_A,
    )
    register_model(store, result, report.files, model_id=MODEL_A, headline=report.headline)
    register_model(store, result, report.files, model_id=MODEL_B, headline=report.headline)


@pytest.fixture(scope="session")
def seeded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded store's folder (read-only for tests: use ``dashboard_env``)."""
    from wound.ingest import ingest_files
    from wound.pipeline import score_stored
    from wound.predict import Predictor

    root = tmp_path_factory.mktemp("dashboard-seed")
    home = root / "home"
    files = phantom_files(root / "files")
    with LocalStore(home) as store:
        store.init()
        results = ingest_files(
            files, store, pseudonym_key=PSEUDONYM_KEY.encode(), limits=ReadLimits(), workers=1
        )
        assert all(r.status == "created" for r in results), [r.error for r in results]
        _register_tiny_models(store, root / "run")
        ids = [r.capture_id for r in store.iter_captures()]
        predictor = Predictor.from_store(store, MODEL_A)
        outcomes = list(score_stored(store, predictor, ids[:2]))
        assert {o.status for o in outcomes} <= {"scored", "refused"}, outcomes
        first = ids[0]
        _, h, w = store.get_record(first).shape
        mask = np.ones((h, w), dtype=np.uint8)  # healthy skin around the burn
        mask[10:30, 10:30] = 4
        store.add_annotation(first, mask, task="burn-depth", annotator="ann-1", source="test")
        mask[10:30, 10:20] = 3
        store.add_annotation(first, mask, task="burn-depth", annotator="ann-2", source="test")
    return home


@pytest.fixture
def dashboard_env(
    seeded_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A private copy of the seeded store, selected through the settings' environment."""
    home = tmp_path / "home"
    shutil.copytree(seeded_home, home)
    _select(monkeypatch, home)
    yield home


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store (created by the app on first use)."""
    home = tmp_path / "empty-home"
    _select(monkeypatch, home)
    return home


def _select(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for name in ("WOUND_BACKEND", "WOUND_BUCKET", "WOUND_TABLE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.chdir(home.parent)  # no stray .env from the checkout


def _page_script(name: str) -> None:
    import importlib

    importlib.import_module(f"dashboard.views.{name}").page()


@pytest.fixture
def page_app() -> Callable[[str], AppTest]:
    """``page_app("score")`` -> an AppTest of that page (not yet run)."""

    def make(name: str) -> AppTest:
        return AppTest.from_function(_page_script, kwargs={"name": name}, default_timeout=120)

    return make


def open_store(home: Path) -> LocalStore:
    store = LocalStore(home)
    store.init()
    return store


@pytest.fixture
def subject_of() -> Callable[[str], str]:
    """``subject_of("phantom-burn000")`` -> the pseudonym the seeded store holds for it."""
    from wound.pseudonym import pseudonymise

    return lambda raw: pseudonymise(raw, PSEUDONYM_KEY.encode())
