"""User text is printed literally (never as console markup, control characters escaped) and
bad option values are usage errors, not tracebacks (issue 13)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from wound.cli.common import literal
from wound.cli.main import app

runner = CliRunner()
WL = [460.0, 550.0, 640.0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", "cli-test-key")
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def device_tif(path: Path, seed: int, subject: str = "P-1") -> Path:
    cube = np.random.default_rng(seed).uniform(0.1, 0.9, (3, 8, 8)).astype(np.float32)
    meta = {"subject": subject, "captured_at": "2026-02-01T10:00:00Z"}
    tifffile.imwrite(
        path, cube, photometric="minisblack", metadata={"wavelengths_nm": WL, "metadata": meta}
    )
    return path


def test_markup_in_file_folder_names_and_metadata_is_printed_literally(
    home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "[bold]in["  # + "/" + "]bad.tif": the path holds "[/]"
    folder.mkdir()
    device_tif(folder / "[red]x.tif", 1, subject="[/]P-[link=x]2")
    (folder / "]bad.tif").write_bytes(b"II*\x00junk")
    result = runner.invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "[red]x.tif -> cap-" in result.output
    assert "[bold]in[/]bad.tif" in result.output
    assert "1 stored, 0 already stored, 1 failed" in result.output


def test_control_characters_and_undecodable_names_stay_on_one_line(
    home: Path, tmp_path: Path
) -> None:
    name = "a\x1b[31mb\nc.tif"
    (tmp_path / name).write_bytes(b"not a capture")
    result = runner.invoke(app, ["ingest", str(tmp_path / name)])
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert len(failed) == 1 and "\\x1b[31mb\\nc.tif" in failed[0]
    assert "\x1b[31m" not in result.output
    assert literal("w\udcff\u202e").plain == "w\\udcff\\u202e"


@pytest.mark.parametrize("value", ["420,abc", "420,,550", "nan,500", "x"])
def test_bad_wavelengths_are_a_usage_error(home: Path, tmp_path: Path, value: str) -> None:
    path = device_tif(tmp_path / "c.tif", 2)
    result = runner.invoke(app, ["ingest", str(path), "--wavelengths", value])
    assert result.exit_code == 2, result.output
    assert "wavelengths" in result.output and "Traceback" not in result.output


def test_a_batch_reports_each_bad_file_and_exits_non_zero_at_the_end(
    home: Path, tmp_path: Path
) -> None:
    for i in range(3):
        device_tif(tmp_path / f"good{i}.tif", 10 + i)
    tifffile.imwrite(
        tmp_path / "blank.tif",
        np.zeros((3, 8, 8), np.float32),
        photometric="minisblack",
        metadata={"wavelengths_nm": WL, "metadata": {"subject": "P-1"}},
    )
    result = runner.invoke(app, ["ingest", str(tmp_path)])
    assert result.exit_code == 1
    assert "3 stored, 0 already stored, 1 failed" in result.output
    assert "blank.tif: every value is 0" in result.output
    check = runner.invoke(app, ["store", "check"])
    assert check.exit_code == 0 and "orphans: 0" in check.output
