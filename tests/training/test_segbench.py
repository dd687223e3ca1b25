"""``wound benchmark segmentation`` end to end on a few tiny photographs (seconds): import,
train, register, score (k-fold and held-out), the CLI on a registered model, ``wound predict``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from training.config import RunConfigError
from training.segbench import (
    CONFIGS,
    BenchmarkError,
    ImageScore,
    kfold_ids,
    preset_config,
    run_benchmark,
    scores,
)
from wound.store import LocalStore

KEY = b"test-key"
SIZE = 48
#: A tiny network and schedule: the preset's recipe, small enough for seconds on a CPU.
TINY: dict[str, Any] = {
    "network": {"name": "unet", "channels": [4, 8, 16], "strides": [2, 2], "num_res_units": 0},
    "patch_size": [32, 32],
    "batch_size": 2,
    "epochs": 1,
    "val_every": 1,
    "progress": False,
    "inference": {
        "tta": True,
        "input_size": 32,
        "scales": [1.0, 0.75],
        "min_component": 0.001,
        "fill_holes": True,
    },
}


def _make_folder(root: Path, names: list[str], seed: int) -> Path:
    """images/ (JPEG, skin-like with a dark red ellipse) + labels/ (RGB 0/255 PNG)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for name in names:
        cy, cx, r = rng.integers(14, 34), rng.integers(14, 34), rng.integers(5, 11)
        mask = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        rgb = np.empty((SIZE, SIZE, 3), np.float32)
        rgb[:] = (200, 150, 120)
        rgb[mask] = (120, 30, 30)
        rgb += rng.normal(0, 8, rgb.shape)
        Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(root / "images" / f"{name}.jpg")
        Image.fromarray(np.repeat(mask[:, :, None], 3, 2).astype(np.uint8) * 255).save(
            root / "labels" / f"{name}.png"
        )
    return root


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    train = _make_folder(tmp_path / "train", [f"{i:04d}" for i in range(6)], 0)
    held = _make_folder(tmp_path / "eval", ["e1", "e2", "e3"], 1)
    return train, held


def test_scores_pooled_and_per_image() -> None:
    rows = [ImageScore("a", 0, 100, 100, 50), ImageScore("b", 0, 0, 0, 0)]
    out = scores(rows)
    assert out["dice_data_based"] == pytest.approx(0.5)
    assert out["dice_mean_per_image"] == pytest.approx(0.75)  # an empty pair scores 1
    assert out["iou_data_based"] == pytest.approx(50 / 150)
    assert out["precision"] == out["recall"] == pytest.approx(0.5)


def test_kfold_keeps_subjects_together_and_covers_everything() -> None:
    ids = [f"c{i}" for i in range(10)]
    subjects = [f"s{i // 2}" for i in range(10)]
    folds = kfold_ids(ids, subjects, 5, seed=0)
    assert sorted(c for f in folds for c in f) == sorted(ids)
    for fold in folds:
        assert len({subjects[ids.index(c)] for c in fold}) == 1
    with pytest.raises(BenchmarkError, match="need at least 6 subjects"):
        kfold_ids(ids, subjects, 6, seed=0)


def test_presets_are_the_shipped_configs() -> None:
    cpu, gpu = preset_config("cpu"), preset_config("gpu")
    assert cpu.task == gpu.task == "wound-mask"
    assert cpu.inference.tta and cpu.inference.fill_holes and len(cpu.inference.scales) > 1
    assert gpu.amp == "auto" and gpu.inference.input_size == 512
    # a few dozen validation photos pick an epoch badly: both keep the schedule's last one
    assert cpu.early_stopping.keep == gpu.early_stopping.keep == "last"
    with pytest.raises(BenchmarkError, match="unknown preset"):
        preset_config("tpu")


def test_a_changed_copy_of_a_preset_is_a_recipe(tmp_path: Path) -> None:
    """``--preset my.yaml``: a researcher's changed copy of a preset trains as it says."""
    recipe = tmp_path / "deeper.yaml"
    text = (CONFIGS / "wound-mask.yaml").read_text()
    recipe.write_text(text.replace("epochs: 50", "epochs: 7"))
    config = preset_config(str(recipe), seed=3)
    assert (config.epochs, config.seed) == (7, 3)
    assert config.inference == preset_config("cpu").inference
    with pytest.raises(RunConfigError, match=r"missing\.yaml"):
        preset_config(str(tmp_path / "missing.yaml"))


def test_the_plain_unet_reference_is_the_preset_without_its_extras() -> None:
    """The reference the ``cpu`` preset is measured against (BENCHMARKS.md) differs from it only
    in augmentation (flips alone), inference (flip TTA alone) and a ~30 min schedule."""
    plain = preset_config(str(CONFIGS.parent / "benchmarks" / "wound-mask-plain-unet.yaml"))
    cpu = preset_config("cpu")
    changed = {k for k, v in plain.model_dump().items() if v != cpu.model_dump()[k]}
    assert changed == {"augment", "inference", "epochs", "output_dir"}
    assert plain.augment.flip_prob > 0 and plain.augment.zoom_prob == plain.augment.gain_prob == 0
    assert plain.augment.rot90_prob == plain.augment.noise_prob == 0
    assert plain.inference.tta and plain.inference.scales == (1.0,)
    assert plain.inference.min_component == 0 and not plain.inference.fill_holes
    assert plain.inference.input_size == cpu.inference.input_size


def test_missing_layout_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    with LocalStore(tmp_path / "home") as store:
        store.init()
        with pytest.raises(BenchmarkError, match="missing labels"):
            run_benchmark(
                store, train_dir=tmp_path, eval_dir=None, out_dir=tmp_path / "o", pseudonym_key=KEY
            )


def test_kfold_benchmark_end_to_end(folders: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = folders
    lines: list[str] = []
    with LocalStore(tmp_path / "home") as store:
        store.init()
        result = run_benchmark(
            store,
            train_dir=train,
            eval_dir=None,
            folds=2,
            out_dir=tmp_path / "cv",
            pseudonym_key=KEY,
            overrides=TINY,
            log=lines.append,
        )
        assert result.mode == "k-fold" and len(result.folds) == 2
        # each fold's scores are reported as soon as it ends (a full CV runs for hours)
        assert sum(line.startswith(("fold 1/2: Dice", "fold 2/2: Dice")) for line in lines) == 2
        assert result.eval_images == result.train_images == 6  # every image scored once
        assert len(result.model_ids) == 2
        assert {m.model_id for m in store.list_models()} == set(result.model_ids)
    for key in ("dice_data_based", "dice_mean_per_image", "precision", "recall"):
        assert 0.0 <= result.metrics[key] <= 1.0 or math.isnan(result.metrics[key])
    report = json.loads((tmp_path / "cv" / "benchmark.json").read_text())
    assert report["metrics"]["images"] == 6
    with (tmp_path / "cv" / "per_image.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["image"] for r in rows) == [f"{i:04d}.jpg" for i in range(6)]
    assert {r["fold"] for r in rows} == {"1", "2"}


def test_held_out_benchmark_then_cli_and_predict(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wound.cli.main import app

    train, held = folders
    home = tmp_path / "home"
    (held / "labels" / "e3.png").unlink()  # an eval image without a mask: reported, skipped
    with LocalStore(home) as store:
        store.init()
        result = run_benchmark(
            store,
            train_dir=train,
            eval_dir=held,
            out_dir=tmp_path / "ho",
            pseudonym_key=KEY,
            overrides=TINY,
            log=lambda _: None,
        )
    assert result.mode == "held-out" and result.eval_images == 2
    assert len(result.skipped) == 1 and "e3.jpg" in result.skipped[0]
    (model_id,) = result.model_ids

    monkeypatch.setenv("WOUND_HOME", str(home))
    runner = CliRunner()
    cli = runner.invoke(
        app,
        [
            "benchmark",
            "segmentation",
            "--model",
            model_id,
            "--eval",
            str(held),
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    out = " ".join(cli.output.split())
    assert cli.exit_code == 0, out
    assert "Dice, data-based (pooled over all pixels; FUSeg ranking)" in out
    assert "Dice, mean per image" in out and "skipped:" in out and "e3.jpg" in out
    again = json.loads((tmp_path / "cli" / "benchmark.json").read_text())
    assert again["metrics"]["dice_data_based"] == pytest.approx(
        result.metrics["dice_data_based"], nan_ok=True
    )  # the registered model scores as the trained one did

    photo = held / "images" / "e1.jpg"
    scored = runner.invoke(app, ["predict", str(photo)])
    text = " ".join(scored.output.split())
    assert scored.exit_code == 0, text
    assert "e1.jpg" in text and "scored" in text and " px" in text  # no scale: pixels
    scaled = runner.invoke(app, ["predict", str(photo), "--spacing-mm", "0.5", "--force"])
    text = " ".join(scaled.output.split())
    assert scaled.exit_code == 0, text
    assert "scored" in text and " cm²" in text and " px" not in text


def test_kfold_ensemble_scored_on_the_eval_folder(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wound.cli.main import app

    train, held = folders
    home = tmp_path / "home"
    lines: list[str] = []
    with LocalStore(home) as store:
        store.init()
        result = run_benchmark(
            store,
            train_dir=train,
            eval_dir=held,
            folds=2,
            ensemble=True,
            out_dir=tmp_path / "ens",
            pseudonym_key=KEY,
            overrides=TINY,
            log=lines.append,
        )
        *fold_ids, ensemble_id = result.model_ids
        assert result.mode == "k-fold ensemble, held-out" and len(fold_ids) == 2
        assert len(result.folds) == 2 and result.eval_images == 3  # the folds' scores are kept
        assert store.get_model(ensemble_id).info["ensemble_of"] == fold_ids
        assert store.get_model(task="wound-mask").model_id == ensemble_id  # what predict runs
    assert any(line.startswith(f"scoring {ensemble_id} on 3 images") for line in lines)
    with (tmp_path / "ens" / "per_image.csv").open() as fh:
        assert sorted(r["image"] for r in csv.DictReader(fh)) == ["e1.jpg", "e2.jpg", "e3.jpg"]
    with (tmp_path / "ens" / "folds_per_image.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 6

    monkeypatch.setenv("WOUND_HOME", str(home))
    scored = CliRunner().invoke(app, ["predict", str(held / "images" / "e2.jpg")])
    assert scored.exit_code == 0, scored.output
    with LocalStore(home) as store:  # `wound predict` ran the ensemble
        assert [p.model_id for p in store.list_predictions()] == [ensemble_id]
    refused = CliRunner().invoke(
        app,
        ["benchmark", "segmentation", "--model", ensemble_id, "--eval", str(held), "--ensemble"],
    )
    assert refused.exit_code != 0 and "--ensemble needs --train" in refused.output


def test_cli_trains_the_preset_with_its_overrides(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command as a user runs it: the real ``cpu`` preset, --epochs and --seed applied."""
    import yaml

    from wound.cli.main import app

    train, held = folders
    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    args = ["benchmark", "segmentation", "--train", str(train), "--eval", str(held)]
    cli = CliRunner().invoke(app, [*args, "--epochs", "1", "--seed", "3", "--out", str(tmp_path)])
    out = " ".join(cli.output.split())
    assert cli.exit_code == 0, out
    assert "Dice, data-based" in out and "preset cpu, held-out" in out
    (model_id,) = json.loads((tmp_path / "benchmark.json").read_text())["model_ids"]
    with LocalStore(tmp_path / "home") as store:
        config = yaml.safe_load(store.get_model_file(model_id, "config.yaml"))
    assert config["seed"] == 3 and config["epochs"] == 1
    assert config["early_stopping"]["keep"] == "last"  # the rest is the shipped preset
