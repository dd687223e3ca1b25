"""Run config: example configs load, bad files give clear errors, resolved config round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from training.config import RunConfig, RunConfigError, load_config, parse_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", ["burn-depth.yaml", "burn-depth-gpu.yaml", "wound-mask.yaml"])
def test_example_configs_load(name: str) -> None:
    config = load_config(CONFIGS / name)
    assert config.network.out_channels == (7 if config.task == "burn-depth" else 2)
    # the demo config stops on the validation loss (the healing AUC alone kept an epoch-5 model
    # whose wound areas were off by a quarter: BENCHMARKS.md)
    default = "healing_auc" if config.task == "burn-depth" else "dice"
    assert config.stop_metric == {"burn-depth.yaml": "val_loss"}.get(name, default)


def test_default_config_is_small_and_phantom() -> None:
    config = load_config(CONFIGS / "burn-depth.yaml")
    assert config.data.source == "phantom"
    assert max(config.network.channels) <= 128 and config.network.num_res_units <= 1


def test_out_channels_follow_task_unless_contradicted() -> None:
    assert RunConfig.model_validate({"task": "wound-mask"}).network.out_channels == 2
    with pytest.raises(ValueError, match="out_channels"):
        RunConfig.model_validate({"task": "wound-mask", "network": {"out_channels": 7}})
    with pytest.raises(ValueError, match="an ensemble is made of trained models"):
        RunConfig.model_validate({"task": "wound-mask", "network": {"ensemble": 3}})


def test_bad_yaml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("task: [burn-depth\n")
    with pytest.raises(RunConfigError, match=r"run\.yaml: not valid YAML"):
        load_config(path)


def test_invalid_field_names_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"task": "burn-depth", "epochs": 0, "bogus": 1}))
    with pytest.raises(RunConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "run.yaml" in message and "epochs" in message and "bogus" in message


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(RunConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(RunConfigError, match="mapping"):
        parse_config(["a", "b"], "x.yaml")


@pytest.mark.parametrize(
    ("update", "match"),
    [
        ({"batch_size": 6, "crops_per_capture": 4}, "multiple of crops_per_capture"),
        ({"patch_size": [60, 60]}, "multiple of 8"),
        ({"data": {"source": "phantom", "label": "latest"}}, "only has ground truth"),
        ({"data": {"source": "store", "label": 0}}, "versions start at 1"),
        ({"early_stopping": {"metric": "dice"}}, "does not apply to task burn-depth"),
        ({"early_stopping": {"keep": "last", "patience": 5}}, "keep: last trains to the end"),
    ],
)
def test_inconsistent_configs_refused(update: dict, match: str) -> None:
    with pytest.raises(RunConfigError, match=match):
        parse_config({"task": "burn-depth", **update}, "run.yaml")


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    config = load_config(CONFIGS / "burn-depth.yaml", output_dir=str(tmp_path))
    resolved = config.resolved(in_channels=5, cuda=False)
    assert resolved.network.in_channels == 5
    assert resolved.amp is False and resolved.channels_last is False
    assert resolved.device == "cpu" and resolved.early_stopping.metric == "val_loss"
    assert config.resolved(in_channels=8, cuda=True).amp is True
    saved = resolved.save(tmp_path / "config.yaml")
    assert load_config(saved) == resolved


def test_patch_size_uses_the_networks_size_divisor() -> None:
    """strides (2, 1, 2): sizes divisible by 4 (the product), not 2 ** 3 = 8."""
    net = {"channels": [4, 8, 16, 32], "strides": [2, 1, 2]}
    assert RunConfig.model_validate({"network": net, "patch_size": (12, 20)}).patch_size == (12, 20)
    with pytest.raises(ValidationError, match="multiple of 4"):
        RunConfig.model_validate({"network": net, "patch_size": (10, 12)})
