"""The ``wound`` command line: the one composition root of the platform."""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table
from rich.text import Text

from wound.cli.common import (
    MasksOption,
    SubjectOption,
    WavelengthsOption,
    WoundIdOption,
    WoundTypeOption,
    console,
    err_console,
    error_line,
    fail,
    ingest_metadata,
    literal,
    open_configured_store,
    parse_wavelengths,
)
from wound.errors import WoundError
from wound.settings import get_settings

app = typer.Typer(
    help="Multispectral wound imaging: phantom, capture store, training, wound scores.\n\n"
    "Example: wound synth demo-data && wound ingest demo-data/ && wound list",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
store_app = typer.Typer(
    help="Create and check the capture store.\n\nExample: wound store init",
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")

#: Modules that add their commands with ``register(app)`` (training is imported lazily inside).
COMMAND_MODULES = (
    "wound.cli.train_cmds",
    "wound.cli.model_cmds",
    "wound.cli.predict_cmds",
    "wound.cli.summary_cmds",
    "wound.cli.timeline_cmds",
    "wound.cli.dashboard_cmds",
    "wound.cli.label_cmds",
    "wound.cli.bench_cmds",
)


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write the phantom TIFF files into.")],
    subjects: Annotated[int, typer.Option(min=1, help="Number of synthetic subjects.")] = 12,
    captures: Annotated[int, typer.Option(min=1, help="Captures per subject.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same cohort.")] = 0,
    size: Annotated[int, typer.Option(min=32, help="Height and width in pixels.")] = 256,
    series: Annotated[
        str | None,
        typer.Option(help="Wound series over visits: burn (days 1-21) or dfu (weeks 0-12)."),
    ] = None,
    visits: Annotated[
        int | None, typer.Option(min=1, help="Visits per wound (a series; default 6 / 13).")
    ] = None,
    interval_days: Annotated[
        float | None, typer.Option(min=0.1, help="Days between visits (default 4 / 7).")
    ] = None,
) -> None:
    """Generate a phantom cohort of multispectral captures with per-pixel ground truth:
    burns on days 1-5, or wound series (docs/longitudinal.md).

    Example: wound synth demo-data --subjects 12 --captures 5 --seed 7
    Example: wound synth ulcers --series dfu --subjects 40 --visits 6 --interval-days 7
    """
    from rich.progress import track

    from wound.io import write_capture
    from wound.phantom import PhantomConfig, synth_cohort
    from wound.phantom.series import DEFAULT_VISITS, SeriesKind, synth_series, visit_days

    out.mkdir(parents=True, exist_ok=True)
    config = PhantomConfig(height=size, width=size)
    if series is None and visits is None:
        cohort = synth_cohort(
            subjects=subjects, captures_per_subject=captures, seed=seed, config=config
        )
        total = subjects * captures
    else:
        kind = series or "burn"
        if kind not in DEFAULT_VISITS:
            fail(f"--series must be burn or dfu, got {kind!r}")
        n = visits or DEFAULT_VISITS[kind]
        try:
            visit_days(cast(SeriesKind, kind), n, interval_days)
        except ValueError as exc:
            fail(str(exc))
        cohort = synth_series(
            kind=cast(SeriesKind, kind),
            subjects=subjects,
            visits=n,
            interval_days=interval_days,
            seed=seed,
            config=config,
        )
        total = subjects * n
    for capture in track(cohort, total=total, description="Synthesising", console=console):
        write_capture(capture, out / f"{capture.identity()}.tif")
    console.print(literal(f"Wrote {total} phantom captures to {out}"))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Capture files or folders of them.")],
    subject: SubjectOption = None,
    wound_type: WoundTypeOption = None,
    wound_id: WoundIdOption = None,
    wavelengths: WavelengthsOption = None,
    masks: MasksOption = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="CSV: image, subject, wound_id, site (, wound_type) per photo."),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Overlapping threads.")] = None,
) -> None:
    """Ingest capture files (multi-band TIFF/OME-TIFF, PNG/JPEG photos) into the store.

    Goes on past bad files, prints one line per file (a refusal names the file and the
    reason), exits non-zero if any failed. ``wound predict FILE`` takes the same options.
    Photos with masks: ``--masks DIR`` (same name, .png) or one folder holding ``images/`` and
    ``labels/``; every photo needs its mask; masks become ground truth and annotation v1.
    Without --subject or a manifest subject, each photo is its own pseudonymous subject.
    Example: wound ingest demo-data/   |   wound ingest ulcer.jpg --subject P-17 --wound-type dfu
    Example: wound ingest fuseg2021-train/ --wound-type dfu   (images/ + labels/)
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from wound.ingest import PHOTO_SUFFIXES, Outcome, find_capture_files, ingest_files
    from wound.io import ReadLimits
    from wound.manifest import read_manifest

    bands = parse_wavelengths(wavelengths)
    layout = len(paths) == 1 and (paths[0] / "labels").is_dir() and (paths[0] / "images").is_dir()
    if masks is None and layout:  # the images/ + labels/ layout (FUSeg and others)
        paths, masks = [paths[0] / "images"], paths[0] / "labels"
        console.print(f"images/ + labels/ layout: masks from {literal(str(masks))}")
    per_file = read_manifest(manifest) if manifest is not None else None
    settings = get_settings()
    store = open_configured_store(settings)
    home = [settings.home] if settings.backend == "local" else []
    files = find_capture_files(paths, masks_dir=masks, exclude=home)
    if not files:
        fail("no capture files found in " + ", ".join(map(str, paths)))
    own = [
        f
        for f in files
        if f.suffix.lower() in PHOTO_SUFFIXES
        and not subject
        and not (per_file or {}).get(f.name, {}).get("subject")
    ]
    if own:
        console.print(
            f"no subject given for {len(own)} photo(s): each is its own pseudonymous subject "
            "(pass --subject, or --manifest with a subject column, to group them)"
        )
    marks = {"created": ("stored", "green"), "exists": ("already stored", "cyan")}
    with Progress(
        TextColumn("Ingesting"), BarColumn(), MofNCompleteColumn(), console=console
    ) as progress:
        task = progress.add_task("ingest", total=len(files))

        def report(result: Outcome) -> None:
            if result.status == "failed":
                line = Text.assemble(("failed", "red"), "  ", literal(result.message))
            else:
                name = result.path.name if result.path else ""
                word, style = marks.get(result.status, (result.status, ""))
                line = Text.assemble((word, style), "  ", literal(f"{name} -> {result.capture_id}"))
            progress.console.print(line, soft_wrap=True)
            progress.advance(task)

        results = ingest_files(
            files,
            store,
            pseudonym_key=settings.pseudonym_key_bytes(),
            limits=ReadLimits.from_settings(settings),
            workers=workers or settings.ingest_workers,
            metadata=ingest_metadata(subject, wound_id, wound_type),
            wavelengths=bands,
            masks_dir=masks,
            per_file=per_file,
            subject_per_file=True,
            on_result=report,
        )
    counts = {s: sum(r.status == s for r in results) for s in ("created", "exists", "failed")}
    console.print(
        f"{counts['created']} stored, {counts['exists']} already stored, {counts['failed']} failed"
    )
    if counts["failed"]:
        raise typer.Exit(1)


@app.command("list")
def list_captures(
    subject: Annotated[str | None, typer.Option(help="Only this subject (pseudonym).")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this labelling status (unlabelled, labelled...).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most rows shown.")] = 200,
    ids: Annotated[
        bool, typer.Option("--ids", help="Print only the capture ids, one per line (scripts).")
    ] = False,
) -> None:
    """List stored captures with a summary table.

    Example: wound list --status unlabelled
             wound show "$(wound list --ids --limit 1)"
    """
    settings = get_settings()
    store = open_configured_store(settings)
    filters: dict[str, object] = {}
    if subject:
        filters["subject"] = subject
    if status:
        filters["label_status"] = status
    records = []
    for record in store.iter_captures(**filters):
        records.append(record)
        if len(records) >= limit:
            break
    if ids:
        for r in records:
            print(r.capture_id)
        return
    table = Table(title=f"Captures ({len(records)} shown)")
    for column in (
        "capture",
        "subject",
        "wound",
        "type",
        "captured (UTC)",
        "bands",
        "size",
        "mm/px",
        "skin",
        "labels",
        "quality",
    ):
        table.add_column(column)
    for r in records:
        meta = r.header.get("metadata", {})
        quality = "-" if r.quality is None else ("ok" if r.quality.get("ok") else "refused")
        table.add_row(
            literal(r.capture_id),
            literal(r.subject),
            literal(r.wound_id),
            literal(r.wound_type),
            r.captured_at.strftime("%Y-%m-%d %H:%M"),
            str(r.shape[0]),
            f"{r.shape[1]}x{r.shape[2]}",
            "-" if r.spacing_mm is None else f"{r.spacing_mm:g}",
            "-" if meta.get("fitzpatrick") is None else f"FST {meta['fitzpatrick']}",
            literal(r.label_status),
            quality,
        )
    console.print(table)
    subjects = {r.subject for r in records}
    console.print(f"{len(records)} captures, {len(subjects)} subjects")


@app.command()
def show(capture_id: Annotated[str, typer.Argument(help="Capture id (see `wound list`).")]) -> None:
    """Show a capture's record: metadata, reference data, objects, annotations, predictions.

    Example: wound show phantom-s003-c02
    """
    store = open_configured_store(get_settings())
    record = store.get_record(capture_id)
    console.print_json(record.model_dump_json())
    annotations = store.list_annotations(capture_id)
    predictions = store.list_predictions(capture_id)
    console.print(f"{len(annotations)} annotation versions, {len(predictions)} predictions")
    for a in annotations:
        console.print(literal(f"  annotation v{a.version} {a.task} by {a.annotator} ({a.source})"))
    for p in predictions:
        console.print(literal(f"  prediction {p.model_id}: {p.status}"))


@app.command()
def export(
    capture_id: Annotated[str, typer.Argument(help="Capture id (see `wound list`).")],
    out: Annotated[Path, typer.Option(help="Output TIFF path.")] = Path("capture.tif"),
) -> None:
    """Export a capture as a multi-band TIFF (cube, wavelengths, metadata, ground truth) + preview.

    Example: wound export phantom-s003-c02 --out s3c2.tif
    """
    from wound.io import write_capture

    store = open_configured_store(get_settings())
    capture = store.get_capture(capture_id)
    write_capture(capture, out)
    out.with_suffix(".png").write_bytes(store.get_preview(capture_id))
    console.print(literal(f"Wrote {out} and {out.with_suffix('.png')}"))


@store_app.command("init")
def store_init() -> None:
    """Create the bucket and tables (AWS) or the folder and database (embedded). Idempotent.

    Example: WOUND_BACKEND=aws WOUND_SSE=AES256 wound store init
    """
    settings = get_settings()
    store = open_configured_store(settings, init=False)
    store.init()
    where = settings.home if settings.backend == "local" else f"s3://{settings.bucket}"
    if settings.backend == "aws":
        from wound.store.aws import AwsStore
        from wound.store.backup import protect_aws

        assert isinstance(store, AwsStore)
        protect_aws(
            store,
            archive_after_days=settings.archive_after_days,
            storage_class=settings.archive_storage_class,
        )
        console.print(
            f"Versioning, archive to {settings.archive_storage_class} after "
            f"{settings.archive_after_days} days, point-in-time recovery: on"
        )
    console.print(f"Store ready ({settings.backend}: {where})")


@store_app.command("backup")
def store_backup(
    dest: Annotated[Path, typer.Argument(help="New, empty folder for the backup.")],
) -> None:
    """Back up the embedded store: SQLite online backup plus the object folder.

    On AWS, versioning and point-in-time recovery (`wound store init`) are the backups.
    Example: wound store backup /backups/wound-2026-11-30
    """
    from wound.store import LocalStore
    from wound.store.backup import backup_local

    store = open_configured_store(get_settings())
    if not isinstance(store, LocalStore):
        fail("on AWS the backups are S3 versioning and DynamoDB point-in-time recovery")
    done = backup_local(store, dest)
    console.print(literal(f"Backed up records and {done['objects']} objects to {dest}"))


@store_app.command("restore")
def store_restore(
    src: Annotated[
        Path | None, typer.Argument(help="Backup folder (embedded store); none on AWS.")
    ] = None,
) -> None:
    """Restore: the embedded store from a backup folder; on AWS every missing or corrupt
    object from its newest earlier version whose SHA-256 matches the record.

    Example: wound store restore /backups/wound-2026-11-30  (AWS: wound store restore)
    """
    from wound.store import AwsStore, LocalStore
    from wound.store.backup import restore_aws_versions, restore_local

    store = open_configured_store(get_settings())
    if isinstance(store, LocalStore):
        if src is None:
            fail("give the backup folder to restore from")
        done = restore_local(store, src)
        console.print(literal(f"Restored records and {done['objects']} objects from {src}"))
        return
    assert isinstance(store, AwsStore)
    result = restore_aws_versions(store)
    console.print(f"restored: {len(result['restored'])}")
    for key in result["unrecoverable"]:
        console.print(literal(f"  unrecoverable: {key}"), soft_wrap=True)
    if result["unrecoverable"]:
        raise typer.Exit(1)


@store_app.command("check")
def store_check(
    repair: Annotated[bool, typer.Option(help="Remove orphan objects (safe repairs).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
    sample: Annotated[
        int, typer.Option(min=0, help="Objects whose SHA-256 is recomputed (random sample).")
    ] = 1000,
    full: Annotated[bool, typer.Option(help="Recompute the SHA-256 of every object.")] = False,
    temp_grace: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds after which a partial write (temp file) counts as an orphan."
        ),
    ] = 3600.0,
) -> None:
    """Find orphan objects, records without objects and checksum mismatches.

    Every object is listed with its size (orphans, missing objects and size changes found for
    all); SHA-256 is recomputed for a random sample of --sample objects (all with --full).
    Exits non-zero when problems remain. Example: wound store check --repair
    """
    store = open_configured_store(get_settings())
    findings = store.check(
        repair=repair, hash_sample=None if full else sample, temp_grace_s=temp_grace
    )
    if as_json:
        console.print_json(json.dumps(findings))
    else:
        for kind in ("orphans", "missing", "mismatched", "repaired"):
            items = findings.get(kind, [])
            console.print(f"{kind}: {len(items)}")
            for item in items:
                console.print(literal(f"  {item}"), soft_wrap=True)
    remaining = findings.get("missing", []) + findings.get("mismatched", [])
    if not repair:
        remaining += findings.get("orphans", [])
    if remaining:
        raise typer.Exit(1)


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_commands()


def main() -> None:
    """Console entry point: platform errors become one clear line and exit code 1."""
    # tifffile logs its own complaints about a broken file; the reader turns each into one
    # refusal line naming the file, so they would only repeat it (docs/reliability.md).
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    try:
        app()
    except WoundError as exc:
        err_console.print(error_line(exc), soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
