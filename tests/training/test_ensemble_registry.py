"""`wound models ensemble`: registered models become one registered model that the predictor
runs on either engine, and whose probabilities are the mean of its members'."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliability.common import WAVELENGTHS
from reliability.model import register_untrained
from training.registry import register_ensemble
from wound.capture import Capture
from wound.ensemble import EnsembleError
from wound.networks import InferenceSettings, ModelInfo, NetworkSpec
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Predictor
from wound.store import LocalStore

BANDS = len(WAVELENGTHS)
PROB_TOL = 5e-4  # the engines' parity bound (tests/wound/test_engines.py)


def _info(task: str, mean: float, std: float) -> ModelInfo:
    spec = NetworkSpec(
        in_channels=BANDS,
        out_channels=7 if task == "burn-depth" else 2,
        channels=(4, 8, 16),
        strides=(2, 2),
        num_res_units=1,
    )
    return ModelInfo(
        task=task,
        network=spec,
        wavelengths_nm=WAVELENGTHS,
        band_mean=(mean,) * BANDS,
        band_std=(std,) * BANDS,
        patch_size=(32, 32),
        inference=InferenceSettings(tta=True),
    )


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        for i, (mean, std) in enumerate([(0.3, 0.15), (0.35, 0.1), (0.25, 0.2)]):
            register_untrained(store, f"m{i}", _info("wound-mask", mean, std), seed=i)
        register_untrained(store, "depth", _info("burn-depth", 0.3, 0.15))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def capture() -> Capture:
    return synth_capture(
        seed=4, subject_index=0, capture_index=0, config=PhantomConfig(height=64, width=80)
    )


def test_cli_registers_an_ensemble_the_predictor_runs(
    home: Path, capture: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wound.cli.main import app

    monkeypatch.setenv("WOUND_HOME", str(home))
    out = CliRunner().invoke(app, ["models", "ensemble", "m0", "m1", "m2"])
    assert out.exit_code == 0, out.output
    assert "the ensemble of 3 wound-mask models" in out.output
    with LocalStore(home) as store:
        record = store.get_model(task="wound-mask")  # the newest: what `wound predict` runs
        assert record.info["ensemble_of"] == ["m0", "m1", "m2"]
        assert "ensemble.json" in record.files
        members = [Predictor.from_store(store, m, engine="torch") for m in ("m0", "m1", "m2")]
        torch_p = Predictor.from_store(store, record.model_id, engine="torch")
        ort_p = Predictor.from_store(store, record.model_id, engine="onnxruntime")
        mean = np.mean([p.predict(capture).wound_prob for p in members], axis=0)
        got = torch_p.predict(capture).wound_prob
        np.testing.assert_allclose(got, mean, atol=1e-5)
        assert np.abs(ort_p.predict(capture).wound_prob - got).max() <= PROB_TOL
        # the members disagree, so the mean is not any one of them
        assert np.abs(members[0].predict(capture).wound_prob - mean).max() > 1e-3
    shown = CliRunner().invoke(app, ["models", "show", record.model_id])
    assert (
        shown.exit_code == 0
        and "ensemble of 3 models (their mean probability): m0, m1, m2" in shown.output
    )


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (["m0", "depth"], "model depth: its task differs"),
        (["m0", "m0"], "named twice"),
        (["m0", "nope"], "nope"),
    ],
)
def test_cli_refuses_what_cannot_be_ensembled(
    home: Path, monkeypatch: pytest.MonkeyPatch, ids: list[str], message: str
) -> None:
    from wound.cli.main import app

    monkeypatch.setenv("WOUND_HOME", str(home))
    out = CliRunner().invoke(app, ["models", "ensemble", *ids])
    assert out.exit_code != 0 and message in out.output
    with LocalStore(home) as store:  # nothing registered
        assert len(store.list_models()) == 4


def test_an_ensemble_is_not_a_member(home: Path) -> None:
    with LocalStore(home) as store:
        record = register_ensemble(store, ["m0", "m1"])
        with pytest.raises(EnsembleError, match="itself an ensemble"):
            register_ensemble(store, [record.model_id, "m2"])
