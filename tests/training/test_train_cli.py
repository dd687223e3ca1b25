"""``wound train``: trains from a YAML config; evaluates and registers into the store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from training.config import RunConfig
from wound.cli import train_cmds
from wound.store import LocalStore


def _app() -> typer.Typer:
    app = typer.Typer()
    train_cmds.register(app)

    @app.callback()
    def _root() -> None:
        """Test root (keeps `train` a subcommand)."""

    return app


def test_train_no_register(tiny_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    path = tiny_config(epochs=1).save(tmp_path / "run.yaml")
    out = tmp_path / "elsewhere"
    result = CliRunner().invoke(
        _app(), ["train", "--config", str(path), "--no-register", "--output-dir", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "trained 1 epochs" in result.output
    assert (out / "checkpoint.pt").exists()


def test_train_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("task: burn-depth\nepochs: -1\n")
    result = CliRunner().invoke(_app(), ["train", "-c", str(path), "--no-register"])
    assert result.exit_code == 1
    assert "run.yaml" in result.output and "epochs" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_train_evaluates_and_registers(
    tiny_config: Callable[..., RunConfig], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("WOUND_HOME", str(home))
    path = tiny_config(epochs=1).save(tmp_path / "run.yaml")
    result = CliRunner().invoke(_app(), ["train", "-c", str(path)])
    assert result.exit_code == 0, result.output
    assert "registered model burn-depth-" in result.output
    record = LocalStore(home).get_model(task="burn-depth")
    assert {"weights.pt", "manifest.json", "report.md", "split.json"} <= set(record.files)
