"""``wound label push``: import captures as Label Studio tasks, in bulk, never twice.

A capture is pushed when its project has no task with its ``capture_id``; after import its
label status moves from "unlabelled" to "queued". A capture marked "queued" whose task is gone
from Label Studio (deleted there) is reported by id and skipped unless ``repush_deleted``.
A capture that cannot be rendered or predicted is reported by id; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk import LabelStudio

from labeling.client import call, ensure_project, iter_tasks
from labeling.config import LabelingError, TaskLabels, task_labels
from labeling.renderings import RenderingStore
from labeling.task_data import build_task
from wound.errors import WoundError
from wound.io.photo import PHOTO_WAVELENGTHS
from wound.predict import Predictor
from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord

BATCH = 100  # tasks per import request


@dataclass
class PushReport:
    project_id: int
    pushed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # queued here, task gone in Label Studio
    failed: dict[str, str] = field(default_factory=dict)  # capture id -> reason


def belongs_to(record: CaptureRecord, labels: TaskLabels) -> bool:
    """Whether a capture is labelled in ``labels.task``'s project: RGB photographs go to tasks
    whose model reads photos, multispectral cubes to the others (the task table's input kind)."""
    photo = tuple(record.wavelengths_nm) == PHOTO_WAVELENGTHS
    return photo == (labels.input_kind == "rgb")


def pushed_captures(client: LabelStudio, project_id: int) -> dict[str, int]:
    """capture id -> Label Studio task id, for every task of the project."""
    return {
        str(t.data.get("capture_id")): int(t.id)
        for t in iter_tasks(client, project_id)
        if t.data and t.data.get("capture_id")
    }


def push(
    store: CaptureStore,
    client: LabelStudio,
    task: str,
    renderings: RenderingStore,
    *,
    predictor: Predictor | None = None,
    capture_ids: Sequence[str] | None = None,
    limit: int | None = None,
    batch: int = BATCH,
    repush_deleted: bool = False,
) -> PushReport:
    """Push captures of ``task`` (the given ids in order, else every unlabelled or queued one)."""
    labels = task_labels(task)
    project = ensure_project(client, task)
    renderings.connect(client, project.id)
    report = PushReport(project_id=int(project.id))
    in_ls = pushed_captures(client, project.id)
    records: Iterable[CaptureRecord]
    if capture_ids is not None:
        records = (store.get_record(cid) for cid in capture_ids)
    else:
        records = (
            r
            for r in store.iter_captures()
            if belongs_to(r, labels) and r.label_status in ("unlabelled", "queued")
        )
    todo: list[dict[str, Any]] = []
    for record in records:
        cid = record.capture_id
        if cid in in_ls:
            report.already.append(cid)
            _mark_queued(store, record)
            continue
        if record.label_status == "queued" and not repush_deleted:
            report.deleted.append(cid)
            continue
        if limit is not None and len(report.pushed) + len(todo) >= limit:
            break
        try:
            todo.append(build_task(store, record, labels, renderings, predictor=predictor))
        except (WoundError, ValueError) as exc:
            report.failed[cid] = str(exc)
            continue
        if len(todo) >= batch:
            _import(client, project.id, todo, store, report)
            todo = []
    if todo:
        _import(client, project.id, todo, store, report)
    return report


def _mark_queued(store: CaptureStore, record: CaptureRecord) -> None:
    if record.label_status == "unlabelled":
        store.set_label_status(record.capture_id, "queued", expected="unlabelled")


def _import(
    client: LabelStudio,
    project_id: int,
    tasks: list[dict[str, Any]],
    store: CaptureStore,
    report: PushReport,
) -> None:
    ids = [t["data"]["capture_id"] for t in tasks]
    response = call(
        client,
        f"import {len(tasks)} tasks into project {project_id}",
        lambda: client.projects.import_tasks(
            project_id,
            request=tasks,  # type: ignore[arg-type]  # plain task dicts, as the API takes
            return_task_ids=True,
        ),
    )
    if response.task_count != len(tasks):
        raise LabelingError(
            f"project {project_id}: imported {response.task_count} of {len(tasks)} tasks "
            f"({ids[0]}...); run push again to finish (nothing is pushed twice)"
        )
    for cid in ids:
        record = store.get_record(cid)
        _mark_queued(store, record)
        report.pushed.append(cid)
