"""``wound synth --series``: wound series written as capture files that read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from wound.cli.main import app
from wound.io import read_capture
from wound.pseudonym import pseudonymise

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", "series-test-key")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def test_synth_dfu_series_files_read_back(home: Path, tmp_path: Path) -> None:
    args = ["synth", "ulcers", "--series", "dfu", "--subjects", "2", "--visits", "3"]
    result = runner.invoke(app, [*args, "--interval-days", "14", "--size", "48"])
    assert result.exit_code == 0, result.output
    assert "Wrote 6 phantom captures" in result.output
    files = sorted((tmp_path / "ulcers").glob("*.tif"))
    assert len(files) == 6
    captures = [read_capture(f, pseudonym_key=b"k") for f in files]
    subjects = {c.metadata.subject for c in captures}
    assert subjects == {pseudonymise(f"phantom-dfu00{i}", b"k") for i in range(2)}
    visits = sorted((c.metadata.visit, c.metadata.days_since_first_visit) for c in captures)
    assert visits == [(1, 0.0), (1, 0.0), (2, 14.0), (2, 14.0), (3, 28.0), (3, 28.0)]
    assert all(c.metadata.wound_type == "dfu" for c in captures)
    assert all(c.reference.healed_by_12_weeks is not None for c in captures)
    assert all(c.truth is not None and c.truth.wound_mask is not None for c in captures)


def test_synth_burn_series_defaults_and_a_clear_error(home: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["synth", "burns", "--visits", "2", "--size", "32", "--subjects", "1"]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "burns").glob("*.tif"))) == 2
    result = runner.invoke(
        app, ["synth", "late", "--series", "burn", "--visits", "6", "--interval-days", "7"]
    )
    assert result.exit_code == 1
    assert "burn series cover days 1-21" in result.output
    assert not list((tmp_path / "late").glob("*.tif"))
    result = runner.invoke(app, ["synth", "odd", "--series", "venous"])
    assert result.exit_code == 1 and "burn or dfu" in result.output
