"""``wound models list|show|export|ensemble`` and ``wound evaluate``: the model registry.

Torch, MONAI and ``training`` are imported inside the commands so ``wound --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from wound.cli.common import fail, open_configured_store
from wound.errors import RecordNotFoundError, WoundError
from wound.settings import get_settings
from wound.store.records import ModelRecord

console = Console()
models_app = typer.Typer(
    help="List, show, export and ensemble registered models.\n\nExample: wound models list",
    no_args_is_help=True,
)

#: Headline metrics shown in `wound models list`, in this order, when the model has them.
HEADLINE_KEYS = ("healing_auc", "wound_dice_mean", "accuracy", "baseline_healing_auc")
ExportFormat = Literal["torchscript", "onnx", "bundle"]


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "n/a" if value is None else str(value)


def _wavelengths(info: dict[str, Any]) -> str:
    waves = info.get("wavelengths_nm") or []
    if not waves:
        return "?"
    return f"{len(waves)} ({min(waves):g}-{max(waves):g} nm)"


def _headline(record: ModelRecord, limit: int = 3) -> str:
    head = record.info.get("metrics_headline") or record.info.get("metrics") or {}
    keys = [k for k in HEADLINE_KEYS if isinstance(head.get(k), int | float)]
    if not keys:  # training-only metrics (best validation numbers)
        keys = [k for k, v in head.items() if isinstance(v, int | float)]
    return ", ".join(f"{k} {_fmt(head[k])}" for k in keys[:limit]) or "-"


def models_list() -> None:
    """List registered models, newest first: id, task, created, bands, headline metrics.

    Example: wound models list
    """
    store = open_configured_store(get_settings())
    try:
        records = sorted(store.list_models(), key=lambda r: r.created_at, reverse=True)
    except WoundError as exc:
        fail(str(exc))
    if not records:
        console.print("No models registered yet (train one: wound train --config run.yaml).")
        return
    table = Table(title=f"{len(records)} registered models")
    table.add_column("id", no_wrap=True)  # ids are copied into other commands: never wrapped
    for col in ("task", "created (UTC)", "wavelengths", "headline"):
        table.add_column(col)
    for r in records:
        table.add_row(
            r.model_id,
            r.task,
            f"{r.created_at:%Y-%m-%d %H:%M}",
            _wavelengths(r.info),
            escape(_headline(r)),
        )
    console.print(table)


def models_show(
    model_id: Annotated[str, typer.Argument(help="Model id (see `wound models list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
) -> None:
    """Show a registered model: network and bands, metrics, training manifest summary, files.

    Example: wound models show burn-depth-20260101T120000Z-1a2b3c4d
    """
    store = open_configured_store(get_settings())
    try:
        record = store.get_model(model_id)
    except RecordNotFoundError:
        fail(f"no model {model_id!r} (see `wound models list`)")
    except WoundError as exc:
        fail(str(exc))
    if as_json:
        console.print_json(record.model_dump_json())
        return
    info = record.info
    net = info.get("network") or {}
    console.print(f"[bold]{record.model_id}[/]  task {record.task}  created {record.created_at}")
    console.print(
        f"network {net.get('name', '?')} in {net.get('in_channels', '?')} out "
        f"{net.get('out_channels', '?')}; patch {info.get('patch_size')}; bands "
        f"{', '.join(f'{w:g}' for w in info.get('wavelengths_nm') or [])} nm"
    )
    if info.get("ensemble_of"):
        console.print(
            f"ensemble of {len(info['ensemble_of'])} models (their mean probability): "
            f"{', '.join(info['ensemble_of'])}",
            soft_wrap=True,
        )
    inference = info.get("inference") or {}  # records from before it was saved: the defaults
    console.print(
        f"inference: window {inference.get('roi', 'auto')}, overlap "
        f"{inference.get('overlap', 0.25)}, TTA {'on' if inference.get('tta') else 'off'}"
    )
    cal = info.get("calibration") or {}  # records from before it was saved: uncalibrated
    console.print(
        f"calibration: healing temperature {cal.get('healing_temperature', 1.0):.3f}, class "
        f"temperature {cal.get('class_temperature', 1.0):.3f}; operating point "
        f"{cal.get('healing_threshold', 0.5):.3f} ({cal.get('rule', 'none: fixed 0.5')}); "
        f"indeterminate above {cal.get('uncertainty_threshold', 0.5):.3f}"
    )
    extras = {k: v for k, v in info.items() if k in ("best_epoch", "epochs_run") and v is not None}
    if extras:
        console.print(", ".join(f"{k} {v}" for k, v in extras.items()))
    for title, key in (("Headline metrics", "metrics_headline"), ("Manifest", "manifest_summary")):
        values = info.get(key) or {}
        if values:
            table = Table(title=title, show_header=False)
            table.add_column("name")
            table.add_column("value")
            for k, v in values.items():
                table.add_row(k, escape(_fmt(v) if not isinstance(v, dict) else json.dumps(v)))
            console.print(table)
    files = Table(title="Files")
    files.add_column("name")
    files.add_column("bytes", justify="right")
    files.add_column("sha256")
    for name, ref in sorted(record.files.items()):
        files.add_row(name, str(ref.size), ref.sha256[:16])
    console.print(files)
    if "report.md" in record.files:
        console.print("Evaluation report: report.md (wound models export ID ... or store files).")


def models_export(
    model_id: Annotated[str, typer.Argument(help="Model id (see `wound models list`).")],
    fmt: Annotated[
        str, typer.Option("--format", help="torchscript, onnx or bundle (a MONAI bundle folder).")
    ] = "torchscript",
    out: Annotated[Path | None, typer.Option(help="Output file (folder for bundle).")] = None,
) -> None:
    """Export a registered model: TorchScript, ONNX or a MONAI bundle folder.

    Each export is reloaded and compared with the torch model (ONNX through onnxruntime). The
    bundle runs with `python -m monai.bundle run --config_file configs/inference.json`.

    Example: wound models export burn-depth-20260101T120000Z-1a2b3c4d --format onnx --out m.onnx
    """
    if fmt not in ("torchscript", "onnx", "bundle"):
        fail(f"--format must be torchscript, onnx or bundle, not {fmt!r}")
    from training.evaluate_registry import load_registered
    from training.export import export_model

    suffix = {"torchscript": ".ts", "onnx": ".onnx", "bundle": "-bundle"}[fmt]
    target = out or Path(f"{model_id}{suffix}")
    store = open_configured_store(get_settings())
    try:
        reg = load_registered(store, model_id)
        path = export_model(reg.model, reg.info, fmt, target, model_id=model_id)
    except RecordNotFoundError:
        fail(f"no model {model_id!r} (see `wound models list`)")
    except WoundError as exc:
        fail(str(exc))
    console.print(f"[green]exported[/] {model_id} as {fmt} to {path}")
    if fmt == "bundle":
        console.print(
            f"run: cd {path} && python -m monai.bundle run --config_file configs/inference.json "
            "--input_file cube.npy --output_file probabilities.npy"
        )


def models_ensemble(
    model_ids: Annotated[
        list[str], typer.Argument(help="Two or more model ids of one task (`wound models list`).")
    ],
) -> None:
    """Register several models as one ensemble model: their mean probability per pixel.

    The members must share task, network, bands, patch size and inference settings (e.g. the fold
    models of `wound benchmark segmentation`) and be uncalibrated. `wound predict` then runs the
    ensemble like any model (it is the latest of its task).

    Example: wound models ensemble wound-mask-20260101T1200Z-1a2b wound-mask-20260101T1300Z-5e6f
    """
    from training.registry import register_ensemble

    store = open_configured_store(get_settings())
    try:
        record = register_ensemble(store, model_ids)
    except RecordNotFoundError as exc:
        fail(f"{exc} (see `wound models list`)")
    except WoundError as exc:
        fail(str(exc))
    console.print(
        f"[green]registered[/] {record.model_id}: the ensemble of {len(model_ids)} "
        f"{record.task} models",
        soft_wrap=True,  # the id is copied into other commands
    )


def evaluate(
    model: Annotated[
        str | None, typer.Option(help="Model id (default: the latest model of --task).")
    ] = None,
    task: Annotated[str | None, typer.Option(help="Task of the default model.")] = None,
    label: Annotated[
        str, typer.Option(help="truth (ground truth) or latest (latest annotations).")
    ] = "truth",
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.01, max=0.99, help="Healing operating point (default: the model's saved one)."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder to write report.json, report.md and plots into.")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1.")] = "cpu",
) -> None:
    """Evaluate a registered model on its validation split, beside the spectral baseline.

    The model is scored on the validation captures stored with it (split.json); the per-pixel
    spectral baseline (LDA) is fitted on the same TRAIN captures. Prints the headline numbers;
    --out writes report.json, report.md and the plots.

    Example: wound evaluate --model burn-depth-20260101T120000Z-1a2b3c4d --out eval/
    """
    if label not in ("truth", "latest"):
        fail(f"--label must be truth or latest, not {label!r}")
    from training.evaluate_registry import evaluate_registered

    store = open_configured_store(get_settings())
    try:
        reg, report = evaluate_registered(
            store, model, task=task, label=label, threshold=threshold, device=device
        )
    except RecordNotFoundError as exc:
        fail(f"{exc} (see `wound models list`)")
    except (WoundError, ValueError) as exc:
        fail(str(exc))
    table = Table(title=f"{reg.record.model_id} on {report.headline.get('captures')} captures")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("spectral baseline", justify="right")
    for key, value in report.headline.items():
        if key.startswith("baseline_") or key == "captures":
            continue
        table.add_row(key, _fmt(value), _fmt(report.headline.get(f"baseline_{key}")))
    console.print(table)
    agreement = report.metrics["model"].get("score_agreement")
    if agreement and agreement.get("quantities"):
        console.print(_agreement_table(agreement))
    console.print("Predictions are an aid to the clinician, not a diagnosis.")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in report.files.items():
            (out / name).write_bytes(data)
        console.print(f"report written to {out}/ ({', '.join(sorted(report.files))})")


def _agreement_table(agreement: dict[str, Any]) -> Table:
    """The score vs truth table (training.score_eval): totals, errors, Bland–Altman."""
    unit = "cm²" if agreement["unit"] == "cm2" else "px"
    table = Table(
        title=f"Wound score vs truth on {agreement['captures']} held-out captures ({unit})",
        caption="Errors in % of the truth; Bland–Altman: bias and 95% limits of agreement.",
    )
    for column in ("quantity", "predicted", "truth", "total error", "median |error|", "bias",
                   "95% limits"):  # fmt: skip
        table.add_column(column, justify="left" if column == "quantity" else "right")

    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:+.1f}%"

    for name, q in agreement["quantities"].items():
        ba = q["bland_altman"]
        limits = "-" if ba["loa_low"] is None else f"{ba['loa_low']:.2f} to {ba['loa_high']:.2f}"
        table.add_row(
            name,
            f"{q['predicted_total']:.2f}",
            f"{q['truth_total']:.2f}",
            pct(q["total_error_pct"]),
            "-" if q["median_abs_error_pct"] is None else f"{q['median_abs_error_pct']:.1f}%",
            "-" if ba["bias"] is None else f"{ba['bias']:+.2f}",
            limits,
        )
    ind = agreement["indeterminate"]

    def share(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    table.add_row(
        "indeterminate",
        f"median {share(ind['median_share'])} of the wound",
        "",
        f"wrong inside {share(ind['error_rate_inside'])}",
        f"outside {share(ind['error_rate_outside'])}",
        "",
        "",
    )
    return table


def register(app: typer.Typer) -> None:
    """Add ``wound models ...`` and ``wound evaluate`` to ``app``."""
    models_app.command("list")(models_list)
    models_app.command("show")(models_show)
    models_app.command("export")(models_export)
    models_app.command("ensemble")(models_ensemble)
    app.add_typer(models_app, name="models")
    app.command("evaluate")(evaluate)
