"""``wound predict`` and ``wound score``: quality gate, inference and wound score from the CLI.

Torch and MONAI are imported inside the commands so ``wound --help`` stays fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from wound.cli.common import (
    MasksOption,
    SubjectOption,
    WavelengthsOption,
    WoundIdOption,
    WoundTypeOption,
    fail,
    ingest_metadata,
    literal,
    open_configured_store,
    parse_wavelengths,
)
from wound.errors import RecordNotFoundError
from wound.settings import get_settings
from wound.tasks import DEFAULT_TASK

if TYPE_CHECKING:
    from wound.ingest import Outcome

console = Console()
STYLE = {"scored": "green", "refused": "yellow", "skipped": "cyan", "failed": "red"}


def predict(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Capture ids, or capture files (ingested into the store first)."),
    ] = None,
    all_captures: Annotated[
        bool, typer.Option("--all", help="Every stored capture (sharded across torchrun ranks).")
    ] = False,
    model: Annotated[
        str | None, typer.Option(help="Model id (default: the latest model of --task).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(
            help=f"Task of the default model (default: wound-mask for photographs, else "
            f"{DEFAULT_TASK})."
        ),
    ] = None,
    tta: Annotated[
        bool | None,
        typer.Option(
            "--tta/--no-tta",
            help="Flip test-time augmentation (4 passes); default: the model's saved setting.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Recompute captures that already have a prediction.")
    ] = False,
    roi: Annotated[
        str | None,
        typer.Option(
            help="Window: auto, whole, patch or HxW (e.g. 256x256); default: the model's."
        ),
    ] = None,
    overlap: Annotated[
        float | None,
        typer.Option(min=0.0, max=0.95, help="Window overlap; default: the model's."),
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Captures read and predicted together.")] = 8,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:1 (default: auto).")] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            help="Inference engine: auto (onnxruntime on CPU, torch on CUDA), torch or "
            "onnxruntime; default: the WOUND_ENGINE setting (auto)."
        ),
    ] = None,
    subject: SubjectOption = None,
    wound_type: WoundTypeOption = None,
    wound_id: WoundIdOption = None,
    wavelengths: WavelengthsOption = None,
    masks: MasksOption = None,
    spacing_mm: Annotated[
        float | None,
        typer.Option(min=0.0001, help="Pixel size in mm (a scale): areas in cm², else pixels."),
    ] = None,
) -> None:
    """Check input quality, predict and score captures; store each result as a prediction.

    Files (and folders) are ingested first exactly as ``wound ingest`` does, with the same
    options (--subject, --wound-type, --wound-id, --wavelengths, --masks).

    One line per capture: scored (with areas), refused (with the reasons), skipped (already
    predicted; use --force) or failed. Exit code 1 if any failed, 2 if any was refused.
    Under torchrun each rank takes its share of --all (sorted ids, rank::world_size).

    A photograph without --subject is its own pseudonymous subject; its wound area is in
    pixels unless --spacing-mm gives the scale.

    Example: wound predict phantom-s003-c02 scan.tif --tta   |   torchrun --nproc-per-node 2
    $(which wound) predict --all   |   wound predict ulcer.jpg --spacing-mm 0.2
    """
    from wound.engines import ENGINES, EngineError
    from wound.ingest import CAPTURE_SUFFIXES, find_capture_files
    from wound.io import ReadLimits
    from wound.pipeline import dist_env, score_file, score_stored, shard
    from wound.predict import Predictor

    if not targets and not all_captures:
        fail("give capture ids or files, or --all")
    if engine is not None and engine not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if task is None:  # photographs only: the task that reads RGB photos
        photos = targets and all(
            Path(t).suffix.lower() in (".jpg", ".jpeg", ".png") for t in targets
        )
        task = "wound-mask" if photos else DEFAULT_TASK
    metadata = ingest_metadata(subject, wound_id, wound_type)
    if spacing_mm is not None:
        metadata = {**(metadata or {}), "spacing_mm": spacing_mm}
    bands = parse_wavelengths(wavelengths)
    settings = get_settings()
    store = open_configured_store(settings)
    rank, world = dist_env()
    prefix = f"[rank {rank}/{world}] " if world > 1 else ""
    if device is None and world > 1 and "LOCAL_RANK" in os.environ:
        import torch

        if torch.cuda.is_available():  # one GPU per torchrun process
            device = f"cuda:{int(os.environ['LOCAL_RANK']) % torch.cuda.device_count()}"
    try:
        predictor = Predictor.from_store(
            store,
            model,
            task=None if model else task,
            device=device,
            tta=tta,
            roi=None if roi is None else _parse_roi(roi),
            overlap=overlap,
            engine=engine or settings.engine,
        )
    except RecordNotFoundError:
        fail(f"no model {model or f'for task {task}'} in the store; train one first")
    except EngineError as exc:
        fail(str(exc))
    outcomes: list[Outcome] = []
    if all_captures:
        ids = shard((r.capture_id for r in store.iter_captures()), rank, world)
    else:
        ids = []
        for target in targets or []:
            path = Path(target)
            if not (path.suffix.lower() in CAPTURE_SUFFIXES or path.exists()):
                ids.append(target)
                continue
            for file in find_capture_files([path], masks_dir=masks):
                outcome = score_file(
                    store,
                    predictor,
                    file,
                    pseudonym_key=settings.pseudonym_key_bytes(),
                    read_limits=ReadLimits.from_settings(settings),
                    metadata=metadata,
                    wavelengths=bands,
                    masks_dir=masks,
                    force=force,
                    subject_per_file=True,
                )
                outcomes.append(outcome)
                _print(outcome, prefix)
    for outcome in score_stored(store, predictor, ids, force=force, chunk=batch):
        outcomes.append(outcome)
        _print(outcome, prefix)
    counts = {s: sum(o.status == s for o in outcomes) for s in STYLE}
    console.print(escape(prefix + ", ".join(f"{n} {s}" for s, n in counts.items())))
    if counts["failed"]:
        raise typer.Exit(1)
    if counts["refused"]:
        raise typer.Exit(2)


def score(
    capture_id: Annotated[str, typer.Argument(help="Capture id (see `wound list`).")],
    model: Annotated[str | None, typer.Option(help="Model id (default: the latest).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the score as JSON.")] = False,
) -> None:
    """Print the stored wound score of a capture (or the reasons it was refused).

    Example: wound score phantom-s003-c02 --json
    """
    from wound.score_format import render_json, render_text
    from wound.scoring import parse_score

    store = open_configured_store(get_settings())
    try:
        record, _ = store.get_prediction(capture_id, model, with_arrays=False)
    except RecordNotFoundError:
        fail(f"no prediction for capture {capture_id}; run `wound predict {capture_id}` first")
    stored = parse_score(record.score, where=f"prediction of capture {capture_id}")
    if as_json:
        print(render_json(stored))
    else:
        console.print(escape(render_text(stored)), highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``predict`` and ``score`` to the ``wound`` app."""
    app.command("predict")(predict)
    app.command("score")(score)


def _parse_roi(text: str) -> str | tuple[int, int]:
    if text in ("auto", "whole", "patch"):
        return text
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        fail(f"--roi must be auto, whole, patch or HxW, got {text!r}")
    return (h, w)


def _print(outcome: Outcome, prefix: str) -> None:
    style = STYLE.get(outcome.status, "")
    console.print(literal(outcome.line(prefix), style), highlight=False, soft_wrap=True)
