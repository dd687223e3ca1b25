"""Connecting to Label Studio (label-studio-sdk 2.x) and finding or creating a task's project."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import httpx
from label_studio_sdk import LabelStudio
from label_studio_sdk.core.api_error import ApiError

from labeling.config import LabelingError, labeling_config, project_title
from labeling.server import is_healthy
from wound.settings import Settings

T = TypeVar("T")


@contextmanager
def talking_to(url: str, what: str) -> Iterator[None]:
    """Turn SDK/HTTP failures into one :class:`LabelingError` naming the server and the step."""
    try:
        yield
    except ApiError as exc:
        body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body)[:500]
        raise LabelingError(
            f"Label Studio at {url}: {what} failed ({exc.status_code}: {body})"
        ) from exc
    except httpx.HTTPError as exc:
        raise LabelingError(f"Label Studio at {url}: {what} failed ({exc})") from exc


def call(client: LabelStudio, what: str, fn: Callable[[], T]) -> T:
    with talking_to(base_url(client), what):
        return fn()


def base_url(client: LabelStudio) -> str:
    return str(client._client_wrapper.get_base_url())


@contextmanager
def connect(url: str, token: str, *, timeout: float = 120.0) -> Iterator[LabelStudio]:
    """A client for Label Studio at ``url`` (its connections closed on exit); refuses at once
    when the server is down."""
    if not is_healthy(url):
        raise LabelingError(
            f"Label Studio at {url} is not reachable: start it with `wound label serve` "
            "or set WOUND_LABEL_STUDIO_URL/WOUND_LABEL_STUDIO_TOKEN to a running one"
        )
    with httpx.Client(timeout=timeout, follow_redirects=True) as http:
        yield LabelStudio(base_url=url.rstrip("/"), api_key=token, httpx_client=http)


def connect_from(settings: Settings) -> AbstractContextManager[LabelStudio]:
    return connect(settings.label_studio_url, settings.label_studio_secret("token"))


def find_project(client: LabelStudio, task: str) -> Any | None:
    """The project of ``task`` (by title), or None."""
    title = project_title(task)
    projects: list[Any] = call(
        client, "list projects", lambda: list(client.projects.list(title=title))
    )
    matches = [p for p in projects if p.title == title]
    return min(matches, key=lambda p: p.id) if matches else None


def ensure_project(client: LabelStudio, task: str) -> Any:
    """The project of ``task``, created with the generated config, or updated to it."""
    config = labeling_config(task)
    project = find_project(client, task)
    if project is None:
        return call(
            client,
            f"create project for {task}",
            lambda: client.projects.create(
                title=project_title(task),
                label_config=config,
                description=f"Wound imaging: {task} (predictions are an aid, not a diagnosis)",
                show_collab_predictions=True,
            ),
        )
    if project.label_config != config:
        call(
            client,
            f"update the labeling config of project {project.id}",
            lambda: client.projects.update(project.id, label_config=config),
        )
    return project


def iter_tasks(client: LabelStudio, project_id: int) -> Iterator[Any]:
    """Every task of a project (data only)."""
    pager: Iterable[Any] = call(
        client,
        f"list tasks of project {project_id}",
        lambda: client.tasks.list(project=project_id, page_size=500, fields="task_only"),
    )
    with talking_to(base_url(client), f"list tasks of project {project_id}"):
        yield from pager


def export_json(client: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    """The project's annotated tasks as Label Studio's JSON export (annotations included)."""

    def download() -> list[dict[str, Any]]:
        chunks = client.projects.exports.download_sync(
            project_id, export_type="JSON", download_all_tasks=False
        )
        data = json.loads(b"".join(chunks))
        if not isinstance(data, list):
            raise LabelingError(f"project {project_id}: export is not a list of tasks")
        return data

    return call(client, f"export project {project_id}", download)
