"""``wound label serve|push|pull|agreement|queue``: labeling in Label Studio (docs/labeling.md).

``labeling`` is imported inside the commands: ``wound`` itself never imports it at module level.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlparse

import typer
from rich.table import Table

from wound.cli.common import console, literal, open_configured_store
from wound.errors import RecordNotFoundError
from wound.settings import Settings, get_settings
from wound.store.base import CaptureStore
from wound.tasks import DEFAULT_TASK

if TYPE_CHECKING:
    from labeling.renderings import RenderingStore
    from wound.predict import Predictor

label_app = typer.Typer(
    help="Label captures in Label Studio: serve, push, pull, agreement, queue.\n\n"
    "Example: wound label queue --top 20",
    no_args_is_help=True,
)

TaskOption = Annotated[str, typer.Option(help="Labeling task (burn-depth, wound-mask).")]
ModelOption = Annotated[
    str | None, typer.Option(help="Model for pre-annotations (default: the task's latest).")
]


@label_app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option(help="Port (default: from the URL setting).")] = None,
) -> None:
    """Start a local Label Studio (own venv, SQLite, 127.0.0.1) and keep it running.

    The first run installs label-studio 1.23.2 into WOUND_LABEL_STUDIO_VENV (minutes).
    Example: wound label serve
    """
    from labeling.server import LocalServer, ensure_venv

    settings = get_settings()
    home = settings.home.resolve()
    console.print(f"Label Studio environment: {settings.label_studio_venv}")
    server = LocalServer(
        executable=ensure_venv(settings.label_studio_venv),
        data_dir=home / "label-studio" / "data",
        document_root=home,
        username=settings.label_studio_user,
        password=settings.label_studio_secret("password"),
        token=settings.label_studio_secret("token"),
        port=port or urlparse(settings.label_studio_url).port or 8080,
    )
    with server:
        console.print(f"Label Studio is running at {server.url}")
        console.print(f"  log in as {settings.label_studio_user}; password and API token in")
        console.print(f"  {home / 'label-studio'} (or WOUND_LABEL_STUDIO_PASSWORD/_TOKEN)")
        console.print("Press Ctrl-C to stop.")
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("Stopping Label Studio")


def _predictor(store: CaptureStore, model: str | None, task: str) -> Predictor | None:
    from wound.predict import Predictor

    try:
        return Predictor.from_store(store, model, task=task)
    except RecordNotFoundError:
        if model is not None:
            raise
        console.print(f"No {task} model registered: pushing without pre-annotations")
        return None


def _renderings(store: CaptureStore, settings: Settings) -> RenderingStore:
    from labeling.renderings import rendering_store

    return rendering_store(store, ttl_min=settings.label_studio_presign_ttl_min)


@label_app.command("push")
def push_command(
    task: TaskOption = DEFAULT_TASK,
    model: ModelOption = None,
    preannotate: Annotated[bool, typer.Option(help="Attach the model's map.")] = True,
    limit: Annotated[int | None, typer.Option(min=1, help="Push at most this many.")] = None,
    repush_deleted: Annotated[
        bool, typer.Option(help="Push again captures whose task was deleted in Label Studio.")
    ] = False,
) -> None:
    """Create/update the task's project and import unlabelled captures (never twice).

    Example: wound label push --task burn-depth --limit 50
    """
    from labeling.client import connect_from
    from labeling.push import push

    settings = get_settings()
    store = open_configured_store(settings)
    predictor = _predictor(store, model, task) if preannotate else None
    with connect_from(settings) as client:
        report = push(
            store,
            client,
            task,
            _renderings(store, settings),
            predictor=predictor,
            limit=limit,
            repush_deleted=repush_deleted,
        )
    for cid in report.deleted:
        console.print(literal(f"task deleted in Label Studio: {cid} (skipped; --repush-deleted)"))
    for cid, reason in report.failed.items():
        console.print(literal(f"failed {cid}: {reason}"), style="red")
    console.print(
        f"project {report.project_id}: {len(report.pushed)} pushed, "
        f"{len(report.already)} already there, {len(report.deleted)} deleted there, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        raise typer.Exit(1)


@label_app.command("pull")
def pull_command(task: TaskOption = DEFAULT_TASK) -> None:
    """Store new and edited annotations as annotation versions (never twice).

    Example: wound label pull --task burn-depth
    """
    from labeling.client import connect_from
    from labeling.pull import pull

    settings = get_settings()
    store = open_configured_store(settings)
    with connect_from(settings) as client:
        report = pull(store, client, task)
    for cid, version in report.stored:
        console.print(literal(f"stored {cid} v{version}"))
    for where, reason in report.failed.items():
        console.print(literal(f"skipped {where}: {reason}"), style="red")
    console.print(
        f"project {report.project_id}: {len(report.stored)} stored, "
        f"{report.unchanged} already stored, {len(report.failed)} skipped"
    )
    if report.failed:
        raise typer.Exit(1)


@label_app.command("agreement")
def agreement_command(task: TaskOption = DEFAULT_TASK) -> None:
    """Inter-annotator agreement: Dice per class between annotators of the same capture.

    Example: wound label agreement
    """
    import math

    from labeling.agreement import agreement, mean_by_class

    store = open_configured_store(get_settings())
    rows = agreement(store, task)
    if not rows:
        console.print("No capture has annotations by two or more annotators yet.")
        return
    classes = list(rows[0].dice)
    table = Table(title=f"Dice per class between annotators ({task}, {len(rows)} pairs)")
    for column in ("capture", "annotators", *classes):
        table.add_column(column)

    def cell(v: float) -> str:
        return "-" if math.isnan(v) else f"{v:.3f}"

    for r in rows:
        table.add_row(r.capture_id, " vs ".join(r.annotators), *(cell(r.dice[c]) for c in classes))
    means = mean_by_class(rows)
    table.add_row("mean", "", *(cell(means[c]) for c in classes))
    console.print(table)


@label_app.command("queue")
def queue_command(
    top: Annotated[int, typer.Option(min=1, help="Push the K most uncertain captures.")] = 20,
    task: TaskOption = DEFAULT_TASK,
    model: ModelOption = None,
) -> None:
    """Active learning: rank unlabelled captures by model uncertainty, push the top K.

    Example: wound label queue --top 20
    """
    from labeling.client import connect_from
    from labeling.queue import queue
    from wound.predict import Predictor

    settings = get_settings()
    store = open_configured_store(settings)
    predictor = Predictor.from_store(store, model, task=task)
    with connect_from(settings) as client:
        ranked, report = queue(
            store, client, task, _renderings(store, settings), predictor, top=top
        )
    table = Table(title=f"Most uncertain first (model {predictor.model_id})")
    for column in ("rank", "capture", "mean entropy (wound)", "wound px", "pushed"):
        table.add_column(column)
    for i, r in enumerate(ranked, 1):
        table.add_row(
            str(i),
            r.capture_id,
            f"{r.entropy:.3f}",
            str(r.wound_pixels),
            "yes" if r.capture_id in report.pushed else "already",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
