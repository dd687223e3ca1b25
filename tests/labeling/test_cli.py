"""``wound label ...`` end to end through the CLI, against the session's Label Studio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from label_studio_sdk import LabelStudio
from typer.testing import CliRunner

from labeling.brush import mask_to_results
from labeling.config import task_labels
from labeling.push import pushed_captures
from labeling.server import LocalServer, free_port
from tests.labeling.conftest import fill_phantom
from wound.cli.main import app
from wound.store import LocalStore

pytestmark = pytest.mark.integration
LABELS = task_labels("burn-depth")


@pytest.fixture
def env(tmp_path: Path, label_studio: LocalServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("WOUND_BACKEND", "local")
    monkeypatch.setenv("WOUND_LABEL_STUDIO_URL", label_studio.url)
    monkeypatch.setenv("WOUND_LABEL_STUDIO_TOKEN", label_studio.token)
    return home


def test_push_pull_agreement_commands(env: Path, ls_client: LabelStudio) -> None:
    with LocalStore(env) as store:
        store.init()
        ids = fill_phantom(store, subjects=1, captures=2)
    runner = CliRunner()
    out = runner.invoke(app, ["label", "push", "--no-preannotate"])
    assert out.exit_code == 0, out.output
    assert "2 pushed, 0 already there" in out.output
    out = runner.invoke(app, ["label", "push", "--no-preannotate"])
    assert "0 pushed, 2 already there" in out.output

    project = ls_client.projects.list(title="wound burn-depth")
    (project_id,) = [p.id for p in project]
    tasks = pushed_captures(ls_client, project_id)
    mask = np.zeros((48, 48), np.uint8)
    mask[10:30, 10:30] = 4
    ls_client.annotations.create(tasks[ids[0]], result=mask_to_results(mask, LABELS))
    out = runner.invoke(app, ["label", "pull"])
    assert out.exit_code == 0, out.output
    assert f"stored {ids[0]} v1" in out.output and "1 stored" in out.output
    out = runner.invoke(app, ["label", "agreement"])
    assert out.exit_code == 0 and "two or more annotators" in out.output


def test_server_down_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wound.cli.main import main

    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOUND_LABEL_STUDIO_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WOUND_LABEL_STUDIO_TOKEN", "x" * 40)
    monkeypatch.setattr("sys.argv", ["wound", "label", "pull"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "is not reachable" in capsys.readouterr().err
