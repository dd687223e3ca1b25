"""An ulcer-healing model's score stores the capture-level healing probability, and the patient
timeline (function and ``wound timeline``) shows it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliability.model import register_untrained
from wound.cli.main import app
from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits, write_capture
from wound.networks import ModelInfo, NetworkSpec
from wound.outcome import HealingOutcome, periwound_features
from wound.phantom import PhantomConfig, synth_series
from wound.pipeline import score_stored
from wound.predict import Predictor
from wound.scoring import WoundScore, parse_score
from wound.store.local import LocalStore
from wound.timeline import wound_timeline

KEY = "ulcer-score-key"
CONFIG = PhantomConfig(height=48, width=48, spacing_mm=0.5)
MODEL_ID = "ulcer-healing-test"
OUTCOME = HealingOutcome(
    feature_mean=(0.0, -1.0, 0.5),
    feature_scale=(2.0, 1.5, 1.0),
    coef=(0.8, 0.3, -0.4),
    intercept=0.1,
    threshold=0.45,
    rule="fixed for the test",
)


def _register(store: LocalStore) -> ModelInfo:
    """A small untrained ulcer-healing UNet with a hand-made capture-level read-out."""
    bands = len(CONFIG.wavelengths_nm)
    spec = NetworkSpec(in_channels=bands, out_channels=3, channels=(4, 8), strides=(2,))
    info = ModelInfo(
        task="ulcer-healing",
        network=spec,
        wavelengths_nm=CONFIG.wavelengths_nm,
        band_mean=(0.3,) * bands,
        band_std=(0.1,) * bands,
        outcome=OUTCOME,
    )
    register_untrained(store, MODEL_ID, info)
    return info


@pytest.fixture
def ulcer_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    home = tmp_path / "home"
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", KEY)
    folder = tmp_path / "series"
    folder.mkdir()
    for capture in synth_series(kind="dfu", subjects=1, visits=2, seed=4, config=CONFIG):
        write_capture(capture, folder / f"{capture.identity()}.tif")
    store = LocalStore(home)
    store.init()
    results = ingest_files(
        find_capture_files([folder]), store, pseudonym_key=KEY.encode(), limits=ReadLimits()
    )
    assert all(r.status == "created" for r in results), [r.error for r in results]
    _register(store)
    return store


def test_score_stores_healing_probability_and_timeline_shows_it(ulcer_store: LocalStore) -> None:
    store = ulcer_store
    predictor = Predictor.from_store(store, MODEL_ID, device="cpu", engine="torch")
    ids = sorted(r.capture_id for r in store.iter_captures())
    outcomes = list(score_stored(store, predictor, ids))
    assert [o.status for o in outcomes] == ["scored", "scored"], [o.message for o in outcomes]
    stored = {}
    for cid in ids:
        record, _ = store.get_prediction(cid, MODEL_ID, with_arrays=False)
        score = parse_score(record.score)
        assert isinstance(score, WoundScore)
        assert score.healing_probability is not None and 0 <= score.healing_probability <= 1
        assert score.healing_probability_threshold == OUTCOME.threshold
        # the stored number is the read-out of this capture's own map and bed
        pred = predictor.predict(store.get_capture(cid))
        assert pred.healing_prob is not None
        feats = periwound_features(pred.healing_prob, pred.wound_mask, 0.5)
        assert score.healing_probability == pytest.approx(OUTCOME.probability(feats), abs=1e-4)
        stored[cid] = score.healing_probability
    timeline = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY.encode())
    visits = timeline.wounds[0].visits
    assert [v.healing_probability for v in visits] == [stored[v.capture_id] for v in visits]
    assert all(v.model_id == MODEL_ID for v in visits)
    runner = CliRunner()
    result = runner.invoke(app, ["timeline", "phantom-dfu000", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)["wounds"][0]["visits"]
    assert [v["healing_probability"] for v in shown] == [v.healing_probability for v in visits]


def test_other_tasks_store_no_healing_probability() -> None:
    """A burn model has no read-out: its score leaves the field empty."""
    from wound.predict import Prediction
    from wound.scoring import score_prediction

    pred = Prediction(
        task="burn-depth",
        probabilities=np.full((6, 4, 4), 1 / 6, dtype=np.float32),
        labels=np.full((4, 4), 3, dtype=np.uint8),
        uncertainty=np.zeros((4, 4), dtype=np.float32),
        healing_prob=np.full((4, 4), 0.7, dtype=np.float32),
    )
    score = score_prediction(pred, capture_id="c", spacing_mm=0.5)
    assert score.healing_probability is None and score.healing_probability_threshold is None
