"""``wound train``: train a model from a YAML run config, evaluate it, register it in the store.

Torch, MONAI and ``training`` are imported inside the command so ``wound --help`` stays fast.
Under ``torchrun --nproc_per_node=N`` every process trains (DDP); rank 0 alone evaluates and
registers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from wound.cli.common import console, fail, open_configured_store
from wound.errors import WoundError
from wound.settings import get_settings

if TYPE_CHECKING:
    from wound.store.base import CaptureStore


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def train_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="YAML run config (see configs/*.yaml).")
    ],
    resume: Annotated[
        bool, typer.Option(help="Continue the run in output_dir from its last checkpoint.")
    ] = False,
    register_model: Annotated[
        bool,
        typer.Option("--register/--no-register", help="Evaluate and put the model into the store."),
    ] = True,
    epochs: Annotated[int | None, typer.Option(min=1, help="Override the config's epochs.")] = None,
    output_dir: Annotated[
        Path | None, typer.Option(help="Override the config's output_dir (the run folder).")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(help="Override data.source: store (captures in the store) or phantom."),
    ] = None,
) -> None:
    """Train a MONAI model (burn-depth or wound-mask) from a run config, then evaluate it
    against the spectral baseline and register it (weights, config, metrics, manifest, report).

    Checkpoints every epoch into the run folder; --resume continues exactly. The same command
    trains with DDP under torchrun.

    Example: wound train --config configs/burn-depth.yaml
             torchrun --nproc_per_node=2 "$(which wound)" train -c configs/burn-depth-gpu.yaml
    """
    from training.config import load_config
    from training.run import train

    overrides: dict[str, Any] = {}
    if epochs is not None:
        overrides["epochs"] = epochs
    if output_dir is not None:
        overrides["output_dir"] = str(output_dir)
    if source not in (None, "store", "phantom"):
        fail(f"--source must be store or phantom, not {source!r}")
    try:
        run_config = load_config(config, **overrides)
        if source is not None and source != run_config.data.source:
            data = {**run_config.data.model_dump(), "source": source}
            run_config = load_config(config, **overrides, data=data)
        needs_store = register_model or run_config.data.source == "store"
        store = open_configured_store(get_settings()) if needs_store else None
        result = train(run_config, store=store, resume=resume)
    except WoundError as exc:
        fail(str(exc))
    if not result.is_main:
        return
    best = ", ".join(f"{k} {_fmt(v)}" for k, v in result.best_metrics.items())
    kept = result.config.early_stopping.keep  # "best" or "last"
    console.print(
        f"trained {result.epochs_run} epochs"
        f"{' (early stop)' if result.stopped_early else ''}; {kept} epoch {result.best_epoch} "
        f"kept: {best}; run folder {result.run_dir}"
    )
    if register_model:
        assert store is not None
        model_id = _evaluate_and_register(store, result)
        console.print(f"registered model [bold]{model_id}[/]")


def _evaluate_and_register(store: CaptureStore, result: Any) -> str:
    """Evaluate on the validation split (report files ride along), then ``put_model``."""
    from training.evaluate import evaluate_model
    from training.registry import make_model_id, register_model
    from wound.networks import weights_to_bytes

    model_id = make_model_id(result.config.task, weights_to_bytes(result.model))
    try:
        report = evaluate_model(
            result.model,
            result.model_info,
            result.val_captures(),
            result.train_captures(),
            device=next(result.model.parameters()).device,
            seed=result.config.seed,
            model_id=model_id,
        )
        for key, value in report.headline.items():
            console.print(f"  {key}: {_fmt(value)}")
        if "ulcer-healing.md" in report.files:  # the three-way table (training.ulcer_eval)
            console.print(report.files["ulcer-healing.md"].decode(), markup=False)
        record = register_model(
            store, result, report.files, model_id=model_id, headline=report.headline
        )
    except (WoundError, ValueError) as exc:
        fail(str(exc))
    return record.model_id


def register(app: typer.Typer) -> None:
    """Add ``wound train`` to ``app``."""
    app.command("train")(train_command)
