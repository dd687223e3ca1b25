"""``wound benchmark segmentation``: train wound-mask on a folder of photographs with masks and
score it like the FUSeg challenge (``training.segbench``; docs/benchmark-segmentation.md)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wound.cli.common import console, fail, literal, open_configured_store
from wound.errors import WoundError
from wound.settings import get_settings

bench_app = typer.Typer(
    help="Benchmarks on real data.\n\nExample: wound benchmark segmentation --train fuseg/",
    no_args_is_help=True,
)

#: Printed names of the metrics, in order (the labels say which Dice is which).
LABELS = {
    "dice_data_based": "Dice, data-based (pooled over all pixels; FUSeg ranking)",
    "dice_mean_per_image": "Dice, mean per image",
    "iou_data_based": "IoU, data-based",
    "iou_mean_per_image": "IoU, mean per image",
    "precision": "precision (pooled)",
    "recall": "recall (pooled)",
    "images": "images scored",
}


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.0f}" if value == int(value) and value > 1 else f"{value:.4f}"


@bench_app.command("segmentation")
def segmentation_command(
    train: Annotated[
        Path | None, typer.Option(help="Folder with images/ + labels/ to train on.")
    ] = None,
    eval_dir: Annotated[
        Path | None,
        typer.Option("--eval", help="Held-out folder (images/ + labels/); without: k-fold CV."),
    ] = None,
    preset: Annotated[
        str,
        typer.Option(
            help="cpu (2 cores, <= 60 min), gpu (AMP), or a run-config .yaml (a recipe to try)."
        ),
    ] = "cpu",
    folds: Annotated[int, typer.Option(min=2, help="k of the cross-validation.")] = 5,
    ensemble: Annotated[
        bool,
        typer.Option(
            "--ensemble",
            help="After the k-fold CV on --train, register the fold models as one ensemble "
            "(their mean probability); with --eval, score that ensemble there.",
        ),
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Score this registered model on --eval (no training).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the preset's epochs.")] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Override the preset's seed (initial weights, crops, augmentation; with k-fold "
            "also the folds). Train twice with different seeds to see a recipe's spread."
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=2, help="Use only the first N images of each folder.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Report folder (default runs/benchmark-<UTC time>).")
    ] = None,
) -> None:
    """Train the wound-mask task and report Dice (data-based and mean per image), IoU,
    precision and recall, plus a per-image CSV; the model is registered, so
    ``wound predict photo.jpg`` uses it. Predictions are an aid to the clinician.

    Example: wound benchmark segmentation --train fuseg/train --eval fuseg/test --preset cpu
    Example: wound benchmark segmentation --train ../shared/data/fuseg2021-train   (5-fold CV)
    Example: wound benchmark segmentation --train fuseg/train --eval fuseg/test --folds 3 --ensemble
    """
    from training.segbench import run_benchmark
    from wound.io import ReadLimits

    settings = get_settings()
    out_dir = out or Path("runs") / f"benchmark-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    overrides: dict[str, Any] = {"progress": False}
    if epochs is not None:
        overrides["epochs"] = epochs
    if seed is not None:
        overrides["seed"] = seed
    try:
        store = open_configured_store(settings)
        result = run_benchmark(
            store,
            train_dir=train,
            eval_dir=eval_dir,
            preset=preset,
            folds=folds,
            ensemble=ensemble,
            out_dir=out_dir,
            pseudonym_key=settings.pseudonym_key_bytes(),
            limits=ReadLimits.from_settings(settings),
            model_id=model,
            limit=limit,
            overrides=overrides,
            log=lambda line: console.print(literal(line)),
        )
    except WoundError as exc:
        fail(str(exc))
    for line in result.skipped:
        console.print(literal(f"skipped: {line}"), soft_wrap=True)
    table = Table(title=f"wound-mask, preset {result.preset}, {result.mode}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, label in LABELS.items():
        table.add_row(label, _fmt(result.metrics[key]))
    console.print(table)
    for i, fold in enumerate(result.folds, start=1):
        console.print(f"fold {i}: Dice data-based {_fmt(fold['dice_data_based'])}")
    console.print(f"models: {', '.join(result.model_ids)}; wall time {result.wall_s:.0f} s")
    console.print(literal(f"report: {out_dir / 'benchmark.json'}, {out_dir / 'per_image.csv'}"))


def register(app: typer.Typer) -> None:
    """Add ``wound benchmark segmentation`` to ``app``."""
    app.add_typer(bench_app, name="benchmark")
