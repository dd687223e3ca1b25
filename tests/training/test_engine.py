"""Engine: loss goes down, exact resume, early stopping, schedule, run folder, loss masking."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from training.config import RunConfig, RunConfigError, load_config
from training.engine import warmup_cosine
from training.losses import BurnDepthLoss, build_loss
from training.run import train
from wound.capture import GroundTruth
from wound.phantom import PhantomConfig, synth_cohort
from wound.pseudonym import pseudonymise
from wound.store import LocalStore
from wound.taxonomy import WOUND_CLASSES


class Crash(Exception):
    pass


def test_training_loss_decreases(tiny_config: Callable[..., RunConfig]) -> None:
    result = train(tiny_config(epochs=8, early_stopping={"patience": None}))
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 8
    assert losses[-1] < 0.85 * losses[0]
    assert not result.model.training
    assert result.model_info.network.in_channels == 8
    assert len(result.model_info.band_mean) == 8
    run = result.run_dir
    for name in ("config.yaml", "checkpoint.pt", "metrics.jsonl", "split.json", "manifest.json"):
        assert (run / name).exists(), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 9))
    assert {"train_loss", "healing_auc", "depth_dice", "lr", "seconds"} <= set(rows[0])
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train_subjects"]) & set(split["val_subjects"])
    saved = load_config(run / "config.yaml")
    assert saved.network.in_channels == 8 and saved.amp is False


def test_resume_continues_exactly(tiny_config: Callable[..., RunConfig], tmp_path: Any) -> None:
    straight = train(tiny_config(epochs=2, output_dir=str(tmp_path / "a")))

    def crash_after_first(epoch: int, row: dict[str, Any]) -> None:
        if epoch == 0:
            raise Crash

    config_b = tiny_config(epochs=2, output_dir=str(tmp_path / "b"))
    with pytest.raises(Crash):
        train(config_b, on_epoch_end=crash_after_first)
    resumed = train(config_b, resume=True)

    a = straight.model.state_dict()
    b = resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["train_loss"] for r in straight.history] == [r["train_loss"] for r in resumed.history]
    lines = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2]


def test_resume_refuses_changed_config(tiny_config: Callable[..., RunConfig]) -> None:
    with pytest.raises(RunConfigError, match="no checkpoint"):
        train(tiny_config(), resume=True)
    train(tiny_config(epochs=1))
    with pytest.raises(RunConfigError, match="patch_size"):
        train(tiny_config(epochs=2, patch_size=[16, 16]), resume=True)


def test_early_stopping(tiny_config: Callable[..., RunConfig]) -> None:
    # min_delta 2 on a metric in [0, 1]: nothing after the first validation counts as better.
    config = tiny_config(epochs=10, early_stopping={"patience": 2, "min_delta": 2.0})
    result = train(config)
    assert result.stopped_early and result.epochs_run == 3 and result.best_epoch == 1


def test_keep_last_keeps_the_final_weights(tiny_config: Callable[..., RunConfig]) -> None:
    # The same run as test_early_stopping, but keep: last — it runs to the end and keeps epoch 4.
    config = tiny_config(epochs=4, early_stopping={"keep": "last", "min_delta": 2.0})
    result = train(config)
    assert not result.stopped_early and result.epochs_run == 4 and result.best_epoch == 4
    last = result.history[-1]
    assert result.best_metrics == {k: last[k] for k in result.best_metrics}
    assert result.best_metrics and not any(row.get("best") for row in result.history)
    final = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)["model"]
    kept = result.model.state_dict()
    assert all(torch.equal(kept[k].cpu(), final[k].cpu()) for k in kept)


def test_warmup_cosine_schedule() -> None:
    f = warmup_cosine(total_steps=10, warmup_steps=2)
    values = [f(s) for s in range(10)]
    assert values[0] == pytest.approx(0.5) and values[1] == pytest.approx(1.0)
    assert values[2] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(values[1:]))
    assert values[-1] < 0.05


def test_healing_loss_ignores_non_skin_pixels() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 7, 8, 8)
    label = torch.zeros(2, 2, 8, 8, dtype=torch.uint8)
    label[:, 0, :4] = 1  # top half healthy skin, bottom half background
    label[:, 1, :4] = 1
    loss = BurnDepthLoss()
    base = loss(logits, label)
    changed = logits.clone()
    changed[:, 6, 4:] += 10.0  # healing logits off the skin
    assert torch.allclose(loss(changed, label), base)
    changed[:, 6, :4] -= 10.0  # healing logits on the skin
    assert loss(changed, label) > base + 1.0


def test_batch_dice_pools_the_wound_pixels_of_the_batch() -> None:
    """A large wound found and a 4-pixel wound missed: per image, the miss costs as much as the
    find gains; pooled over the batch (``batch_dice``), it costs what its pixels weigh."""
    label = torch.zeros(2, 1, 32, 32)
    label[0, 0, :16] = 1  # half the image
    label[1, 0, :2, :2] = 1  # 4 pixels
    logits = torch.zeros(2, 2, 32, 32)
    logits[:, 0] = 8.0  # background everywhere ...
    logits[0, 0, :16], logits[0, 1, :16] = -8.0, 8.0  # ... but the large wound, found
    per_image = build_loss("wound-mask")(logits, label)
    pooled = build_loss("wound-mask", batch_dice=True)(logits, label)
    assert pooled < per_image - 0.2
    one = (logits[:1], label[:1])  # one image: the same loss either way
    assert torch.allclose(
        build_loss("wound-mask")(*one), build_loss("wound-mask", batch_dice=True)(*one)
    )


def test_wound_mask_from_store(tiny_config: Callable[..., RunConfig], tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "home")
    store.init()
    cohort = synth_cohort(
        subjects=3, captures_per_subject=2, seed=4, config=PhantomConfig(height=32, width=32)
    )
    for c in cohort:
        assert c.truth is not None and c.truth.depth is not None
        wound = np.isin(c.truth.depth, WOUND_CLASSES).astype(np.uint8)
        meta = c.metadata.model_copy(
            update={"subject": pseudonymise(c.metadata.subject, b"k"), "wound_type": "dfu"}
        )
        store.put_capture(
            dataclasses.replace(c, metadata=meta, truth=GroundTruth(wound_mask=wound))
        )
    config = tiny_config(
        task="wound-mask",
        epochs=1,
        data={"source": "store", "label": "truth", "filter": {"wound_type": "dfu"}},
        split={"val_fraction": 0.34, "seed": 0},
    )
    result = train(config, store=store)
    assert result.model_info.network.out_channels == 2
    assert 0.0 <= result.best_metrics["dice"] <= 1.0
    assert len(result.val_captures()) == 2 and result.val_captures()[0].truth is not None
    assert (tmp_path / "run" / "cache").is_dir()  # store captures cached as TIFFs


@pytest.mark.gpu  # deselected by `make test`; `make test-gpu` runs it on a CUDA machine
def test_cuda_amp_channels_last(tiny_config: Callable[..., RunConfig]) -> None:
    result = train(tiny_config(epochs=3, device="cuda", amp="auto", channels_last="auto"))
    assert result.config.amp is True and result.config.channels_last is True
    assert next(result.model.parameters()).is_cuda
    losses = [row["train_loss"] for row in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
