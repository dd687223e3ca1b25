"""Registry read side: `wound models list|show|export` and `wound evaluate` on a real LocalStore."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from training.config import RunConfig
from training.data import band_statistics, item_from_capture
from training.evaluate_registry import evaluate_registered, split_captures, stored_split
from wound.capture import Capture
from wound.networks import ModelInfo, NetworkSpec, build_network, weights_to_bytes
from wound.phantom import PhantomConfig, synth_cohort
from wound.pseudonym import pseudonymise
from wound.store import LocalStore

PHANTOM = {
    "subjects": 4,
    "captures_per_subject": 1,
    "seed": 3,
    "config": {"height": 32, "width": 32},
}
SPEC = NetworkSpec(in_channels=8, out_channels=7, channels=(4, 8), strides=(2,))


def _cohort() -> list[Capture]:
    cfg = PhantomConfig(height=32, width=32)
    return list(synth_cohort(subjects=4, captures_per_subject=1, seed=3, config=cfg))


def _register(store: LocalStore, model_id: str, source: str, captures: list[Capture]) -> None:
    """Put a (random-weight) model into the registry the way the training helper does."""
    torch.manual_seed(0)
    items = [item_from_capture(c, "burn-depth") for c in captures]
    ids = [i.capture_id for i in items]
    mean, std = band_statistics(items[:2])
    info = ModelInfo(
        task="burn-depth",
        network=SPEC,
        wavelengths_nm=captures[0].wavelengths,
        band_mean=mean,
        band_std=std,
        patch_size=(32, 32),
    )
    data = {"source": source, "label": "truth"}
    if source == "phantom":
        data["phantom"] = PHANTOM  # type: ignore[assignment]
    config = RunConfig.model_validate(
        {"task": "burn-depth", "network": SPEC.model_dump(), "data": data, "patch_size": (32, 32)}
    )
    split = {"train_capture_ids": ids[:2], "val_capture_ids": ids[2:]}
    record_info = info.model_dump(mode="json")
    record_info["metrics_headline"] = {"healing_auc": 0.5, "accuracy": 0.2}
    files = {
        "weights.pt": weights_to_bytes(build_network(SPEC)),
        "config.yaml": config.to_yaml().encode(),
        "split.json": json.dumps(split).encode(),
    }
    store.put_model(model_id, files, task="burn-depth", info=record_info)


@pytest.fixture
def phantom_store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "home")
    store.init()
    _register(store, "m-phantom", "phantom", _cohort())
    return store


@pytest.fixture
def captures_store(tmp_path: Path) -> tuple[LocalStore, list[str]]:
    store = LocalStore(tmp_path / "home")
    store.init()
    caps = []
    for c in _cohort():
        meta = c.metadata.model_copy(update={"subject": pseudonymise(c.metadata.subject, b"k")})
        caps.append(dataclasses.replace(c, metadata=meta))
    ids = [store.put_capture(c).capture_id for c in caps]
    _register(store, "m-store", "store", caps)
    return store, ids


def test_phantom_model_evaluates_on_regenerated_split(phantom_store: LocalStore) -> None:
    train_ids, val_ids = stored_split(phantom_store, "m-phantom")
    train, val = split_captures(phantom_store, "m-phantom")
    assert [c.identity() for c in val] == val_ids
    assert [c.identity() for c in train] == train_ids
    assert not {c.metadata.subject for c in train} & {c.metadata.subject for c in val}
    _, report = evaluate_registered(phantom_store, "m-phantom")
    assert report.metrics["validation_captures"] == val_ids
    assert report.metrics["model_id"] == "m-phantom"
    assert report.headline["baseline_accuracy"] is not None
    assert "by_fitzpatrick" in report.metrics["model"]  # phantom metadata has skin types


def test_store_model_uses_latest_annotations(captures_store: tuple[LocalStore, list[str]]) -> None:
    store, ids = captures_store
    _, truth_report = evaluate_registered(store, "m-store", label="truth")
    for cid in ids:  # annotate everything as background: the "latest" labels differ from truth
        store.add_annotation(
            cid, np.zeros((32, 32), np.uint8), task="burn-depth", annotator="a", source="test"
        )
    _, latest_report = evaluate_registered(store, "m-store", label="latest")
    assert latest_report.metrics["labels"] == "latest"
    truth_cm = np.array(truth_report.metrics["model"]["depth"]["confusion_matrix"])
    latest_cm = np.array(latest_report.metrics["model"]["depth"]["confusion_matrix"])
    assert latest_cm[1:].sum() == 0 and truth_cm[1:].sum() > 0


def _cli(home: Path, *args: str) -> str:
    from wound.cli import model_cmds
    from wound.cli.main import app

    model_cmds.console.width = 200  # wide tables: assertions do not depend on wrapping
    result = CliRunner().invoke(app, list(args), env={"WOUND_HOME": str(home)})
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_models_list_show_evaluate_export(phantom_store: LocalStore, tmp_path: Path) -> None:
    home = phantom_store.home
    listing = _cli(home, "models", "list")
    assert "m-phantom" in listing and "healing_auc 0.500" in listing
    shown = _cli(home, "models", "show", "m-phantom")
    assert "weights.pt" in shown and "split.json" in shown
    out = tmp_path / "eval"
    evaluated = _cli(home, "evaluate", "--model", "m-phantom", "--out", str(out))
    assert "healing_auc" in evaluated and "aid to the clinician" in evaluated
    assert (out / "report.md").is_file() and (out / "confusion_matrix.png").is_file()
    onnx_path = tmp_path / "m.onnx"
    _cli(home, "models", "export", "m-phantom", "--format", "onnx", "--out", str(onnx_path))
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"bands": np.zeros((1, 8, 32, 32), np.float32)})
    assert logits.shape == (1, 7, 32, 32)


def test_cli_unknown_model_is_a_clear_error(phantom_store: LocalStore) -> None:
    from wound.cli.main import app

    result = CliRunner().invoke(
        app, ["models", "show", "nope"], env={"WOUND_HOME": str(phantom_store.home)}
    )
    assert result.exit_code == 1
    assert "no model 'nope'" in result.output
    assert "Traceback" not in result.output


def _assert_close(got: object, want: object, path: str = "") -> None:
    """Every number of ``got`` within 1e-6 of ``want`` (same keys, same lists, same strings)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for key in want:
            _assert_close(got[key], want[key], f"{path}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            _assert_close(g, w, f"{path}[{k}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, float) and abs(got - want) <= 1e-6, (path, got, want)
    else:
        assert got == want, (path, got, want)


def test_evaluate_reproduces_registration(
    tmp_path: Path, tiny_config: Callable[..., RunConfig]
) -> None:
    """`wound evaluate` on a registered model gives the metrics recorded when `wound train`
    registered it (same split, labels, threshold, baseline seed) to within 1e-6."""
    from training.run import train
    from wound.cli.train_cmds import _evaluate_and_register

    store = LocalStore(tmp_path / "home")
    store.init()
    config = tiny_config(seed=5, inference={"roi": "patch", "overlap": 0.5})
    result = train(config)
    model_id = _evaluate_and_register(store, result)
    record = store.get_model(model_id)
    saved = record.info["inference"]
    assert {k: saved[k] for k in ("roi", "overlap", "tta", "sw_batch_size")} == {
        "roi": "patch",
        "overlap": 0.5,
        "tta": False,
        "sw_batch_size": 8,
    }
    registered = json.loads(store.get_model_file(model_id, "report.json"))
    reg, report = evaluate_registered(store, model_id)
    assert reg.info.inference.roi == "patch" and reg.info.inference.overlap == 0.5
    assert report.metrics["validation_captures"] == result.split["val_capture_ids"]
    for key in ("model", "baseline", "headline"):
        _assert_close(json.loads(json.dumps(report.metrics[key])), registered[key], key)
    _assert_close(report.headline, record.info["metrics_headline"], "metrics_headline")


def test_old_record_without_inference_settings_gets_defaults(phantom_store: LocalStore) -> None:
    record = phantom_store.get_model("m-phantom")
    info = {k: v for k, v in record.info.items() if k != "inference"}
    parsed = ModelInfo.model_validate(info)
    assert parsed.inference.roi == "auto" and parsed.inference.overlap == 0.25
    assert not parsed.inference.tta
