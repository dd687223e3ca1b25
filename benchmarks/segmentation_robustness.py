"""Robustness of a registered wound-mask model to other clinics' framing and colour.

Makes perturbed copies of an eval folder (``images/`` + ``labels/``) and scores the model on
each with ``training.segbench`` (the deployed predictor):

- ``zoom2`` / ``zoom4``: a window around the wound's centre, 1/sqrt(2) (1/2) of each side,
  resized back to the original size, so the wound fills 2x (4x) more of the frame (a wound
  larger than the window is cut, in image and mask alike);
- ``colour``: a warm colour cast (R x1.12, G x0.97, B x0.82), gamma 1.25 and 10 % darker;
- ``zoom2+colour``: both.

Prints a table of data-based and mean per-image Dice and writes JSON.

Usage: python benchmarks/segmentation_robustness.py --model MODEL_ID --eval DIR [--out DIR]
[--limit N] [--variants zoom2,colour] (the store is the configured one: WOUND_HOME / WOUND_*).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from training.segbench import pair_folders, run_benchmark
from wound.cli.common import open_configured_store
from wound.settings import get_settings


def zoom_pair(
    image: Image.Image, mask: np.ndarray, area_factor: float
) -> tuple[Image.Image, np.ndarray]:
    """Crop a window 1/sqrt(area_factor) of each side around the wound centre, resize back."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    cy, cx = (ys.mean(), xs.mean()) if len(ys) else (h / 2, w / 2)
    side = 1 / math.sqrt(area_factor)
    ch, cw = round(h * side), round(w * side)
    top = int(np.clip(round(cy - ch / 2), 0, h - ch))
    left = int(np.clip(round(cx - cw / 2), 0, w - cw))
    box = (left, top, left + cw, top + ch)
    big = image.crop(box).resize((w, h), Image.Resampling.BICUBIC)
    crop = Image.fromarray(mask[top : top + ch, left : left + cw] * 255)
    return big, (np.asarray(crop.resize((w, h), Image.Resampling.NEAREST)) > 127).astype(np.uint8)


def colour_shift(image: Image.Image) -> Image.Image:
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    rgb = rgb**1.25 * np.array([1.12, 0.97, 0.82], dtype=np.float32) * 0.9
    return Image.fromarray((rgb.clip(0, 1) * 255 + 0.5).astype(np.uint8))


def make_variant(
    src: Path, dst: Path, *, zoom: float | None, colour: bool, limit: int | None = None
) -> Path:
    """A perturbed copy of the first ``limit`` image/mask pairs of ``src`` in ``dst``."""
    images, labels = pair_folders(src)
    (dst / "images").mkdir(parents=True, exist_ok=True)
    (dst / "labels").mkdir(parents=True, exist_ok=True)
    for path in sorted(images.iterdir())[:limit]:
        label = labels / f"{path.stem}.png"
        if not label.exists():
            continue
        image = Image.open(path).convert("RGB")
        mask = (np.asarray(Image.open(label).convert("L")) > 0).astype(np.uint8)
        if zoom:
            image, mask = zoom_pair(image, mask, zoom)
        if colour:
            image = colour_shift(image)
        image.save(dst / "images" / f"{path.stem}.png")
        Image.fromarray(mask * 255).save(dst / "labels" / f"{path.stem}.png")
    return dst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--eval", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("bench-out/segmentation-robustness"))
    parser.add_argument("--limit", type=int, default=None, help="First N eval images only.")
    parser.add_argument("--variants", default="original,zoom2,zoom4,colour,zoom2+colour")
    args = parser.parse_args()
    settings = get_settings()
    store = open_configured_store(settings)
    variants = {
        "original": (None, False),
        "zoom2": (2.0, False),
        "zoom4": (4.0, False),
        "colour": (None, True),
        "zoom2+colour": (2.0, True),
    }
    results: dict[str, dict[str, float]] = {}
    for name in args.variants.split(","):
        zoom, colour = variants[name]
        folder = make_variant(
            args.eval, args.out / "data" / name, zoom=zoom, colour=colour, limit=args.limit
        )
        result = run_benchmark(
            store,
            train_dir=None,
            eval_dir=folder,
            out_dir=args.out / name,
            pseudonym_key=settings.pseudonym_key_bytes(),
            model_id=args.model,
            log=lambda _: None,
        )
        results[name] = result.metrics
        m = result.metrics
        print(
            f"{name:<14} Dice data-based {m['dice_data_based']:.4f}  "
            f"mean per image {m['dice_mean_per_image']:.4f}  "
            f"precision {m['precision']:.4f}  recall {m['recall']:.4f}",
            flush=True,
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "robustness.json").write_text(
        json.dumps(
            {"model": args.model, "eval": str(args.eval), "limit": args.limit, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
