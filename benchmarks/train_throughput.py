"""Training throughput (patches/s): our engine vs a plain MONAI tutorial loop, same everything.

Same data (phantom captures written as canonical TIFFs with ``wound.io.write_capture``, labels
beside them), same model (the default small UNet of configs/burn-depth.yaml), same batch size,
same transform chain (load -> per-band normalisation -> random crops -> flips / rot90 / gain /
noise):

- plain: ``monai.data.Dataset`` (no caching), ``DataLoader(shuffle=True, num_workers=0)``,
  MetaTensors on (MONAI's default), and the tutorial's step
  (zero_grad, forward, loss, backward, step);
- ours: :class:`training.engine.Trainer` - ``CacheDataset`` over the deterministic load +
  normalise (built once, reported separately), shared cache without per-item deep copies,
  crops before augmentation, MetaTensor tracking off, clipping + warm-up/cosine schedule included.

Default captures are device-sized (8 bands x 1024 x 1280, the size inference targets), where
re-reading and re-normalising a 42 MB cube for every four 96 x 96 patches is what a plain loop
pays; a second case uses phantom-size captures (160 x 160), where the model's compute dominates.
Each loop runs ``--rounds`` alternating rounds (median reported): on a shared machine another
process's threads can slow a round ten-fold (OpenMP oversubscription), and the plain loop reads
its cubes through the page cache, so single rounds swing. Target on CPU: ours >= 1.5x plain.
Usage: python benchmarks/train_throughput.py [--captures 12] [--steps 12] [--height 1024 ...]
Writes bench-out/train_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
from monai.data import DataLoader, Dataset
from monai.utils import set_determinism

from training.config import load_config
from training.data import CaptureItem, band_statistics, item_from_capture
from training.distributed import DistContext
from training.engine import Trainer
from training.losses import build_loss
from training.run import make_dataset
from training.transforms import train_transforms
from wound.io import write_capture
from wound.networks import build_network
from wound.phantom import PhantomConfig, synth_capture

ROOT = Path(__file__).resolve().parents[1]


def make_items(n: int, height: int, width: int, folder: Path) -> list[CaptureItem]:
    """``n`` phantom captures on disk: canonical capture TIFF + a labels TIFF each."""
    config = PhantomConfig(height=height, width=width)
    items = []
    for k in range(n):
        capture = synth_capture(seed=11, subject_index=k, capture_index=0, config=config)
        item = item_from_capture(capture, "burn-depth")
        image = write_capture(capture, folder / f"{item.capture_id}.tif")
        label = folder / f"{item.capture_id}-labels.tif"
        tifffile.imwrite(label, np.asarray(item.label), photometric="minisblack")
        items.append(
            CaptureItem(
                capture_id=item.capture_id,
                subject=item.subject,
                task=item.task,
                header=item.header,
                image=image,
                label=label,
            )
        )
    return items


def plain_loop(config: Any, items: list[CaptureItem], mean: Any, std: Any, steps: int) -> float:
    """The MONAI tutorial loop; returns patches/s over ``steps`` steps (after one warm-up)."""
    set_determinism(seed=0)
    ds = Dataset(
        [i.as_dict() for i in items],
        transform=train_transforms(config, mean, std, items[0].wavelengths),
    )
    loader = DataLoader(
        ds, batch_size=config.batch_size // config.crops_per_capture, shuffle=True, num_workers=0
    )
    model = build_network(config.network)
    loss_fn = build_loss(config.task)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    model.train()
    done, patches, start = -1, 0, 0.0
    while done < steps:
        for batch in loader:
            if done == 0:
                start, patches = time.perf_counter(), 0
            optimizer.zero_grad()
            loss = loss_fn(model(batch["image"]), batch["label"])
            loss.backward()
            optimizer.step()
            patches += batch["image"].shape[0]
            done += 1
            if done >= steps:
                break
    return patches / (time.perf_counter() - start)


def engine_loop(
    config: Any, items: list[CaptureItem], mean: Any, std: Any, steps: int, run_dir: Path
) -> tuple[float, float]:
    """Our Trainer; returns (patches/s over ``steps`` steps after one warm-up, cache seconds)."""
    set_determinism(seed=0)
    t0 = time.perf_counter()
    ds = make_dataset(items, config, mean, std)
    cache_s = time.perf_counter() - t0
    trainer = Trainer(
        config,
        DistContext(),
        build_network(config.network),
        ds,
        [],
        mean=mean,
        std=std,
        run_dir=run_dir,
    )
    trainer.net.train()
    done, patches, start, epoch = -1, 0, 0.0, 0
    while done < steps:
        for batch in trainer.loader(epoch):
            if done == 0:
                start, patches = time.perf_counter(), 0
            trainer.step(batch["image"], batch["label"])
            patches += batch["image"].shape[0]
            done += 1
            if done >= steps:
                break
        epoch += 1
    return patches / (time.perf_counter() - start), cache_s


def run_case(
    name: str,
    captures: int,
    height: int,
    width: int,
    steps: int,
    config_path: Path,
    rounds: int = 3,
) -> dict[str, Any]:
    """Both loops on ``captures`` phantom captures of ``height x width``: medians of
    ``rounds`` alternating rounds of ``steps`` steps each."""
    from monai.data.meta_obj import get_track_meta, set_track_meta

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        items = make_items(captures, height, width, folder)
        mean, std = band_statistics(items)
        config = load_config(config_path, progress=False, output_dir=str(folder / "run"))
        config = config.resolved(in_channels=len(mean), cuda=False)
        plains: list[float] = []
        ours_all: list[float] = []
        caches: list[float] = []
        for _ in range(rounds):  # alternate, so transient load hits both alike
            plains.append(plain_loop(config, items, mean, std, steps))
            track = get_track_meta()
            set_track_meta(False)  # what training.run.train does for the run
            try:
                ours_r, cache_r = engine_loop(config, items, mean, std, steps, folder)
            finally:
                set_track_meta(track)
            ours_all.append(ours_r)
            caches.append(cache_r)
        plain, ours, cache_s = (float(np.median(v)) for v in (plains, ours_all, caches))
    return {
        "case": name,
        "captures": captures,
        "capture_shape": [len(mean), height, width],
        "patch_size": list(config.patch_size),
        "batch_size": config.batch_size,
        "crops_per_capture": config.crops_per_capture,
        "steps_per_round": steps,
        "rounds": rounds,
        "plain_rounds": [round(v, 2) for v in plains],
        "engine_rounds": [round(v, 2) for v in ours_all],
        "plain_patches_per_s": round(plain, 2),
        "engine_patches_per_s": round(ours, 2),
        "ratio": round(ours / plain, 2),
        "engine_cache_build_s": round(cache_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=12, help="Device-size captures.")
    parser.add_argument("--steps", type=int, default=12, help="Steps per round.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds (median).")
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--small", type=int, default=160, help="Phantom-size case (0: skip).")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "burn-depth.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "train_throughput.json")
    args = parser.parse_args()

    cases = [
        run_case(
            "device-size captures",
            args.captures,
            args.height,
            args.width,
            args.steps,
            args.config,
            args.rounds,
        )
    ]
    if args.small:
        cases.append(
            run_case(
                "phantom-size captures",
                24,
                args.small,
                args.small,
                3 * args.steps,
                args.config,
                args.rounds,
            )
        )
    config = load_config(args.config)
    result = {
        "benchmark": "train_throughput",
        "config": str(
            args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config
        ),
        "network": config.network.model_dump(mode="json"),
        "cases": cases,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }
    print(f"{'case':<24}{'cube':>16}{'plain/s':>10}{'ours/s':>10}{'ratio':>8}{'cache s':>9}")
    for c in cases:
        shape = "x".join(str(v) for v in c["capture_shape"])
        print(
            f"{c['case']:<24}{shape:>16}{c['plain_patches_per_s']:>10.1f}"
            f"{c['engine_patches_per_s']:>10.1f}{c['ratio']:>7.2f}x{c['engine_cache_build_s']:>9.1f}"
        )
    print(
        f"(patches/s of training patches, median of {args.rounds} alternating rounds; "
        "plain = MONAI tutorial loop, no cache)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
