"""``wound summary`` and ``wound score`` over a real LocalStore holding scores in the old (no
``kind``) and new shapes, a refusal among them."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from wound.capture import Capture
from wound.cli.main import app
from wound.phantom import PhantomConfig, synth_capture
from wound.pseudonym import pseudonymise
from wound.scoring import AreaUnit, WoundScore, parse_score
from wound.store import LocalStore

CONFIG = PhantomConfig(height=32, width=32)


def phantom(i: int) -> Capture:
    capture = synth_capture(seed=5, subject_index=i, capture_index=0, config=CONFIG)
    meta = capture.metadata.model_copy(
        update={"subject": pseudonymise(capture.metadata.subject, b"k")}
    )
    return dataclasses.replace(capture, metadata=meta)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_score_record: dict[str, Any]) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "240")
    with LocalStore(home) as store:
        store.init()
        store.put_model(
            "m1",
            {"weights.pt": b"not used here"},
            task="burn-depth",
            info={"metrics_headline": {"healing_auc": 0.91, "baseline_healing_auc": 0.74}},
        )
        ids = [store.put_capture(phantom(i)).capture_id for i in range(3)]
        old = {**old_score_record, "capture_id": ids[0], "model_id": "m1"}
        store.put_prediction(ids[0], "m1", status="scored", score=old)
        px = parse_score(old)
        assert isinstance(px, WoundScore)
        new = px.model_copy(
            update={
                "capture_id": ids[1],
                "unit": AreaUnit.PX,
                "spacing_mm": None,
                "pixel_area": 1.0,
                "wound_area": 300.0,
            }
        )
        store.put_prediction(ids[1], "m1", status="scored", score=new.model_dump(mode="json"))
        refusal = {  # old shape: no ``kind``
            "refused": True,
            "capture_id": ids[2],
            "model_id": "m1",
            "reasons": ["saturated: 12% of pixels at the sensor maximum"],
            "codes": ["saturated"],
        }
        store.put_prediction(ids[2], "m1", status="refused", score=refusal)
    return home


def test_summary_reads_old_and_new_scores(home: Path) -> None:
    result = CliRunner().invoke(app, ["summary", "--model", "m1"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "(3 captures)" in out
    assert "0.75 cm²" in out and "300.00 px" in out
    assert "refused: saturated: 12% of pixels" in out
    assert "0.910" in out and "0.740" in out  # headline vs baseline
    assert "not an excision margin" in out


def test_score_command_reads_an_old_record(home: Path) -> None:
    with LocalStore(home) as store:
        ids = [r.capture_id for r in store.iter_captures()]
    runner = CliRunner()
    for cid in ids:
        text = runner.invoke(app, ["score", cid, "--model", "m1"])
        assert text.exit_code == 0, text.output
        as_json = runner.invoke(app, ["score", cid, "--model", "m1", "--json"])
        assert as_json.exit_code == 0, as_json.output
        assert '"kind": "' in as_json.output  # read back typed, written with its tag
    outputs = [runner.invoke(app, ["score", cid, "--model", "m1"]).output for cid in ids]
    assert any("Wound area: 0.75 cm²" in o for o in outputs)
    assert any("Wound area: 300 px (pixel spacing unknown)" in o for o in outputs)
    assert any("REFUSED" in o and "saturated" in o for o in outputs)


def test_summary_prints_the_targets_met_or_not(home: Path) -> None:
    with LocalStore(home) as store:
        store.put_model(
            "m2",
            {"weights.pt": b"not used here"},
            task="burn-depth",
            info={
                "metrics_headline": {
                    "healing_auc": 0.96,
                    "sensitivity": 0.80,
                    "ece": 0.02,
                    "ece_before_calibration": 0.06,
                    "unlikely_to_heal_total_error_pct": -12.0,
                    "indeterminate_error_ratio": 4.0,
                }
            },
        )
    out = CliRunner().invoke(app, ["summary", "--model", "m2"]).output
    assert "Targets on held-out subjects" in out

    def row(label: str) -> str:
        return next(line for line in out.splitlines() if label in line)

    assert "yes" in row("healing AUC") and "no" in row("sensitivity at op. point")
    assert "yes" in row("ECE, calibrated (before: 0.060)")
    assert "no" in row("unlikely to heal, total error")
    assert "yes" in row("error rate in / out")


def test_target_rules() -> None:
    from wound.cli.summary_cmds import target_met

    assert target_met(0.95, ">= 0.95") and not target_met(0.949, ">= 0.95")
    assert target_met(4.9, "<= 5") and not target_met(5.1, "<= 5")
    assert target_met(-9.9, "within ±10") and not target_met(10.5, "within ±10")
    assert target_met(0.1, "reported") is None and target_met(None, ">= 3") is None
