"""Gate -> predict -> score -> store over a LocalStore; refusals stored; sharded `predict --all`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reliability.model import register_untrained
from wound.capture import Capture
from wound.networks import ModelInfo, NetworkSpec
from wound.phantom import PhantomConfig, synth_capture
from wound.pipeline import score_stored, shard
from wound.predict import Predictor
from wound.pseudonym import pseudonymise
from wound.store import LocalStore

CONFIG = PhantomConfig(height=64, width=64)
BANDS = len(CONFIG.wavelengths_nm)


def stored(capture: Capture) -> Capture:
    meta = capture.metadata.model_copy(
        update={"subject": pseudonymise(capture.metadata.subject, b"k")}
    )
    return dataclasses.replace(capture, metadata=meta)


def phantom(i: int) -> Capture:
    return stored(synth_capture(seed=11, subject_index=i // 2, capture_index=i % 2, config=CONFIG))


def make_store(home: Path, n: int = 3) -> tuple[LocalStore, list[str]]:
    store = LocalStore(home)
    store.init()
    spec = NetworkSpec(in_channels=BANDS, channels=(4, 8), strides=(2,), num_res_units=0)
    info = ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=CONFIG.wavelengths_nm,
        band_mean=(0.3,) * BANDS,
        band_std=(0.15,) * BANDS,
        patch_size=(32, 32),
    )
    register_untrained(store, "m1", info)
    ids = [store.put_capture(phantom(i)).capture_id for i in range(n)]
    return store, ids


def test_scores_are_stored_once(tmp_path: Path) -> None:
    store, ids = make_store(tmp_path)
    predictor = Predictor.from_store(store)
    outcomes = list(score_stored(store, predictor, ids))
    assert [o.status for o in outcomes] == ["scored"] * 3
    record, arrays = store.get_prediction(ids[0], "m1")
    assert record.status == "scored"
    assert record.score["model_id"] == "m1" and record.score["unit"] == "cm2"
    assert {"read", "gate", "predict", "score"} <= set(record.score["timings_ms"])
    assert arrays["depth"].dtype == np.uint8 and arrays["depth"].shape == (64, 64)
    assert arrays["healing_prob"].dtype == np.float16
    assert arrays["uncertainty"].dtype == np.float16
    assert store.get_record(ids[0]).quality["ok"] is True
    # second run: skipped; --force recomputes
    assert [o.status for o in score_stored(store, predictor, ids)] == ["skipped"] * 3
    forced = list(score_stored(store, predictor, ids[:1], force=True))
    assert [o.status for o in forced] == ["scored"]
    assert store.get_prediction(ids[0], "m1")[0].created_at > record.created_at


def test_refusal_is_stored_with_the_capture(tmp_path: Path) -> None:
    store, ids = make_store(tmp_path, n=1)
    good = phantom(0)
    cube = np.clip(good.cube * 3, 0, 1)  # an over-exposed capture
    bad = dataclasses.replace(
        good, cube=cube, metadata=good.metadata.model_copy(update={"capture_id": "bad-1"})
    )
    bad_id = store.put_capture(bad).capture_id
    outcomes = {
        o.capture_id: o for o in score_stored(store, Predictor.from_store(store), [*ids, bad_id])
    }
    assert outcomes[ids[0]].status == "scored"
    assert outcomes[bad_id].status == "refused"
    assert "saturated" in outcomes[bad_id].message
    quality = store.get_record(bad_id).quality
    assert quality is not None and quality["ok"] is False
    assert quality["reasons"][0]["code"] == "saturated"
    record, arrays = store.get_prediction(bad_id, "m1")
    assert record.status == "refused" and arrays == {}
    assert record.score["refused"] is True
    assert "saturated" in record.score["reasons"][0]


def test_shard_is_a_partition() -> None:
    ids = [f"c{i}" for i in (5, 1, 3, 0, 4, 2, 6)]
    parts = [shard(ids, r, 3) for r in range(3)]
    assert sorted(c for part in parts for c in part) == sorted(ids)
    assert parts[0] == ["c0", "c3", "c6"]


def test_sharded_predict_all(tmp_path: Path) -> None:
    """Two ranks (RANK/WORLD_SIZE as torchrun sets them) over 6 captures: each predicted once,
    by the rank that owns it."""
    store, ids = make_store(tmp_path / "home", n=6)
    code = "import sys; from wound.cli.main import main; sys.argv[0] = 'wound'; main()"
    procs = []
    for rank in range(2):
        env = {
            **os.environ,
            "WOUND_HOME": str(tmp_path / "home"),
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
            "COLUMNS": "200",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", code, "predict", "--all"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    for rank, out in enumerate(outputs):
        mine = shard(ids, rank, 2)
        assert f"[rank {rank}/2] 3 scored" in out, out
        for cid in mine:
            assert f"[rank {rank}/2] {cid}: scored" in out
    predictions = store.list_predictions()
    assert sorted(p.capture_id for p in predictions) == sorted(ids)  # once each
    for p in predictions:
        owner = next(r for r in range(2) if p.capture_id in shard(ids, r, 2))
        assert p.score["provenance"]["rank"] == owner
        assert p.score["provenance"]["world_size"] == 2


def test_cli_predict_file_and_score(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wound.cli.main import app
    from wound.io import write_capture

    home = tmp_path / "home"
    make_store(home, n=1)
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    path = tmp_path / "scan.tif"
    fresh = synth_capture(seed=12, subject_index=7, capture_index=0, config=CONFIG)
    write_capture(fresh, path)
    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{fresh.identity()}: scored" in result.output
    result = runner.invoke(app, ["score", fresh.identity()])
    assert result.exit_code == 0, result.output
    assert "Wound area:" in result.output
    assert "not an excision margin" in result.output
    result = runner.invoke(app, ["score", fresh.identity(), "--json"])
    assert '"model_id": "m1"' in result.output
    missing = runner.invoke(app, ["predict", "no-such-capture"])
    assert missing.exit_code == 1
    assert "no-such-capture: failed" in missing.output


def test_cli_predict_file_takes_the_ingest_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wound predict FILE`` reads and stores through the ingest, with its options."""
    import tifffile

    from wound.cli.main import app
    from wound.pseudonym import pseudonymise
    from wound.settings import Settings

    home = tmp_path / "home"
    store, _ = make_store(home, n=1)
    monkeypatch.setenv("WOUND_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    fresh = synth_capture(seed=12, subject_index=8, capture_index=0, config=CONFIG)
    path = tmp_path / "device.tif"
    tifffile.imwrite(path, fresh.cube, photometric="minisblack")  # no wavelengths, no subject
    runner = CliRunner()
    bare = runner.invoke(app, ["predict", str(path)])
    assert bare.exit_code == 1 and "device.tif" in bare.output and "wavelengths" in bare.output
    usage = runner.invoke(app, ["predict", str(path), "--wavelengths", "420,abc"])
    assert usage.exit_code == 2 and "wavelengths" in usage.output
    bands = ",".join(f"{w:g}" for w in CONFIG.wavelengths_nm)
    args = ["--subject", "P-9", "--wound-type", "other", "--wound-id", "left", "--wavelengths"]
    result = runner.invoke(app, ["predict", str(path), *args, bands])
    assert result.exit_code in (0, 2), result.output
    assert "device.tif -> cap-" in result.output
    (record,) = [r for r in store.iter_captures() if r.wound_type == "other"]
    key = Settings(home=home).pseudonym_key_bytes()
    assert record.subject == pseudonymise("P-9", key) and record.wound_id.startswith("wnd-")
    assert store.list_predictions(record.capture_id)
