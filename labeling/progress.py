"""Labeling progress per Label Studio project, for the dashboard's Labeling page.

One row per task of the task table that has a project: tasks pushed, tasks annotated,
annotations in Label Studio, and the mean inter-annotator Dice over the wound classes of the
project's captures (from the versions stored by ``wound label pull``; docs/labeling.md).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from labeling.agreement import agreement, mean_by_class
from labeling.client import call, connect_from, find_project
from labeling.push import pushed_captures
from wound.settings import Settings
from wound.store.factory import open_store
from wound.tasks import TASKS

AGREEMENT_CAPTURES = 200  # captures read per project for the agreement column (a bounded sample)


def project_progress(settings: Settings) -> list[dict[str, Any]]:
    """Rows ``project, tasks, annotated, annotations, agreement (mean Dice), url``.

    Raises :class:`labeling.config.LabelingError` naming the server when it is down.
    """
    store = open_store(settings)
    rows: list[dict[str, Any]] = []
    with connect_from(settings) as client:
        for task in TASKS:
            project = find_project(client, task)
            if project is None:
                continue
            project_id = int(project.id)
            project = call(
                client,
                f"read project {project_id}",
                partial(client.projects.get, project_id),
            )
            captures = list(pushed_captures(client, project_id))[:AGREEMENT_CAPTURES]
            pairs = agreement(store, task, captures)
            dice = [v for k, v in mean_by_class(pairs).items() if k != "background"]
            dice = [v for v in dice if not math.isnan(v)]
            rows.append(
                {
                    "project": project.title,
                    "tasks": int(project.task_number or 0),
                    "annotated": int(project.num_tasks_with_annotations or 0),
                    "annotations": int(project.total_annotations_number or 0),
                    "agreement (mean Dice)": round(sum(dice) / len(dice), 3) if dice else None,
                    "url": f"{settings.label_studio_url.rstrip('/')}/projects/{project_id}",
                }
            )
    return rows
