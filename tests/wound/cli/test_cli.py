"""The ``wound`` CLI end to end on the embedded store (and on AWS through moto_server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from wound.capture import platform_capture_id
from wound.cli.main import app
from wound.phantom import phantom_capture_id

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", "cli-test-key")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "home"


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


# Each command's --help example: tests/wound/cli/test_help.py (walks every command).


def test_synth_ingest_list_show_export(home: Path, tmp_path: Path) -> None:
    code, out = run("synth", "cohort", "--subjects", "2", "--captures", "2", "--size", "32")
    assert code == 0, out
    assert len(list((tmp_path / "cohort").glob("*.tif"))) == 4
    code, out = run("ingest", "cohort")
    assert code == 0, out
    assert "4 stored, 0 already stored, 0 failed" in out
    code, out = run("ingest", "cohort")
    assert code == 0 and "0 stored, 4 already stored" in out
    code, out = run("list")
    assert code == 0 and "4 captures, 2 subjects" in out
    capture_id = platform_capture_id(phantom_capture_id("phantom", 0, 1, 1))
    assert capture_id in out and "phantom-s00" not in out
    code, out = run("show", capture_id)
    assert code == 0 and f'"capture_id": "{capture_id}"' in out
    code, out = run("export", capture_id, "--out", "out.tif")
    assert code == 0, out
    assert (tmp_path / "out.tif").stat().st_size > 0 and (tmp_path / "out.png").exists()
    code, out = run("store", "check")
    assert code == 0 and "orphans: 0" in out


def test_raw_subject_never_reaches_the_store(home: Path, tmp_path: Path) -> None:
    run("synth", "cohort", "--subjects", "1", "--captures", "1", "--size", "32")
    assert run("ingest", "cohort")[0] == 0
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert b'phantom-s000"' not in stored and b"phantom-s000," not in stored
    _, out = run("list")
    assert "sub-" in out


def test_ingest_reports_bad_files_and_exits_non_zero(home: Path, tmp_path: Path) -> None:
    run("synth", "cohort", "--subjects", "1", "--captures", "2", "--size", "32")
    (tmp_path / "cohort" / "broken.tif").write_bytes(b"II*\x00garbage")
    code, out = run("ingest", "cohort")
    assert code == 1
    assert "broken.tif" in out and "2 stored, 0 already stored, 1 failed" in out


def test_platform_errors_are_one_clear_line(home: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "from wound.cli.main import main; main()", "show", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "no such capture" in proc.stderr and "Traceback" not in proc.stderr


def test_store_check_repair_removes_an_orphan(home: Path) -> None:
    run("store", "init")
    orphan = home / "objects" / "captures" / "ghost" / "cube.tif"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    code, out = run("store", "check", "--json")
    assert code == 1 and "captures/ghost/cube.tif" in out
    code, out = run("store", "check", "--repair", "--json")
    assert code == 0 and json.loads(out)["repaired"] == ["captures/ghost/cube.tif"]
    assert not orphan.exists()


@pytest.mark.integration
def test_aws_backend_init_with_encryption_ingest_and_check(
    aws_env: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOUND_BACKEND", "aws")
    monkeypatch.setenv("WOUND_BUCKET", "cli-test-bucket")
    monkeypatch.setenv("WOUND_TABLE_PREFIX", "clitest")
    monkeypatch.setenv("WOUND_SSE", "AES256")
    code, out = run("store", "init")
    assert code == 0, out
    rules = boto3.client("s3").get_bucket_encryption(Bucket="cli-test-bucket")
    algorithm = rules["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ]["SSEAlgorithm"]
    assert algorithm == "AES256"
    run("synth", "cohort", "--subjects", "2", "--captures", "1", "--size", "32")
    code, out = run("ingest", "cohort")
    assert code == 0 and "2 stored" in out, out
    keys = [
        o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="cli-test-bucket")["Contents"]
    ]
    folder = f"captures/{platform_capture_id(phantom_capture_id('phantom', 0, 0, 0))}/"
    assert any(k.startswith(folder) and k.endswith("/cube.tif") for k in keys)
    code, out = run("list")
    assert "2 captures, 2 subjects" in out
    assert run("store", "check")[0] == 0
