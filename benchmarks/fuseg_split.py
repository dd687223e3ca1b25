"""A held-out split of a folder in the FUSeg layout (``images/`` + ``labels/``): every k-th image
(sorted by name) goes to ``OUT/heldout``, the rest to ``OUT/train`` (copies, same layout).

Usage: python benchmarks/fuseg_split.py ../shared/data/fuseg2021-train /tmp/fuseg-split [--every 5]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def split(src: Path, out: Path, every: int = 5) -> tuple[int, int]:
    """Copy image/mask pairs; image ``i`` (0-based, sorted) is held out when ``i % every ==
    every - 1``. Returns (train, held-out) counts."""
    counts = {"train": 0, "heldout": 0}
    images = sorted(p for p in (src / "images").iterdir() if p.is_file())
    for i, image in enumerate(images):
        part = "heldout" if i % every == every - 1 else "train"
        label = src / "labels" / f"{image.stem}.png"
        for sub, path in (("images", image), ("labels", label)):
            (out / part / sub).mkdir(parents=True, exist_ok=True)
            if path.exists():
                shutil.copy2(path, out / part / sub / path.name)
        counts[part] += 1
    return counts["train"], counts["heldout"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=5)
    args = parser.parse_args()
    train, held = split(args.src, args.out, args.every)
    print(f"{train} train, {held} held out -> {args.out}/train, {args.out}/heldout")


if __name__ == "__main__":
    main()
