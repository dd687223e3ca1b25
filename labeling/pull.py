"""``wound label pull``: Label Studio annotations back into the store as annotation versions.

Reads the project's JSON export (the brush-to-PNG exports are disabled for multi-image tasks),
decodes each annotation's brush RLE into a class-id mask and appends it with
``CaptureStore.add_annotation`` (source "label-studio", annotator ``ls-user-<id>``, the Label
Studio task/annotation ids and timestamps, the healing choice and comment in ``extra``).

- Idempotent: an annotation whose (annotation id, updated_at) is already stored is skipped; an
  edited annotation (new updated_at) becomes a new version.
- Two annotators on one capture: two annotations, two versions (``wound label agreement``).
- Bad input (a mask size that does not match the capture, an unknown label name, a task whose
  capture is not in the store) is reported by Label Studio task and annotation id and skipped;
  each annotation is stored whole (one ``add_annotation``) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from label_studio_sdk import LabelStudio

from labeling.brush import results_to_mask
from labeling.client import export_json, find_project
from labeling.config import (
    COMMENT,
    HEALING,
    HEALING_CHOICES,
    LabelingError,
    TaskLabels,
    task_labels,
)
from wound.errors import RecordNotFoundError, StoreError
from wound.store.base import CaptureStore

SOURCE = "label-studio"


@dataclass
class PullReport:
    project_id: int
    stored: list[tuple[str, int]] = field(default_factory=list)  # (capture id, version)
    unchanged: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # "task T annotation A" -> reason


def annotator_id(annotation: dict[str, Any]) -> str:
    """A pseudonymous annotator id: Label Studio's user id, never an e-mail or a name."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("id")
    return f"ls-user-{who}"


def _choice_and_comment(results: list[dict[str, Any]]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for r in results:
        value = r.get("value", {})
        if r.get("from_name") == HEALING and value.get("choices"):
            choice = value["choices"][0]
            if choice not in HEALING_CHOICES:
                raise LabelingError(
                    f"healing choice {choice!r} is not one of {list(HEALING_CHOICES)}"
                )
            extra["healing_heals_21d"] = HEALING_CHOICES[choice]
        if r.get("from_name") == COMMENT and value.get("text"):
            extra["comment"] = "\n".join(value["text"])
    return extra


def pull(store: CaptureStore, client: LabelStudio, task: str) -> PullReport:
    """Store every new or edited annotation of ``task``'s project (see the module docstring)."""
    labels = task_labels(task)
    project = find_project(client, task)
    if project is None:
        raise LabelingError(f"Label Studio has no project for task {task}: push first")
    report = PullReport(project_id=int(project.id))
    for ls_task in export_json(client, project.id):
        tid = ls_task.get("id")
        cid = str((ls_task.get("data") or {}).get("capture_id", ""))
        for annotation in ls_task.get("annotations") or []:
            aid = annotation.get("id")
            where = f"task {tid} annotation {aid}"
            if annotation.get("was_cancelled") or not annotation.get("result"):
                continue
            try:
                stored = _pull_one(store, labels, cid, tid, annotation, where)
            except (LabelingError, StoreError) as exc:
                report.failed[where] = f"capture {cid or '?'}: {exc}"
                continue
            if stored is None:
                report.unchanged += 1
            else:
                report.stored.append((cid, stored))
    return report


def _pull_one(
    store: CaptureStore,
    labels: TaskLabels,
    cid: str,
    tid: Any,
    annotation: dict[str, Any],
    where: str,
) -> int | None:
    """Store one annotation; its new version, or None when it is stored already."""
    task = labels.task
    try:
        record = store.get_record(cid)
    except RecordNotFoundError:
        raise LabelingError("the task's capture is not in this store") from None
    key = (annotation.get("id"), annotation.get("updated_at"))
    for existing in store.list_annotations(cid, task=task):
        extra = existing.extra
        if (
            existing.source == SOURCE
            and (extra.get("ls_annotation_id"), extra.get("ls_updated_at")) == key
        ):
            return None
    _, height, width = record.shape
    results = annotation["result"]
    mask = results_to_mask(results, labels, (height, width), what=where)
    extra = {
        "ls_project_id": annotation.get("project"),
        "ls_task_id": tid,
        "ls_annotation_id": annotation.get("id"),
        "ls_created_at": annotation.get("created_at"),
        "ls_updated_at": annotation.get("updated_at"),
        "lead_time_s": annotation.get("lead_time"),
        **_choice_and_comment(results),
    }
    version = store.add_annotation(
        cid, mask, task=task, annotator=annotator_id(annotation), source=SOURCE, extra=extra
    ).version
    if record.label_status != "labelled":
        store.set_label_status(cid, "labelled")
    return version
