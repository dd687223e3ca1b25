"""Push against a real Label Studio server, on both store backends."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

import numpy as np
import pytest
from label_studio_sdk import LabelStudio

from labeling.brush import results_to_mask
from labeling.config import LabelingError, task_labels
from labeling.push import push, pushed_captures
from labeling.renderings import rendering_store
from labeling.server import LocalServer
from tests.labeling.conftest import SIZE, fill_phantom, tiny_predictor
from wound.store.base import CaptureStore

pytestmark = pytest.mark.integration


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def fetch(label_studio: LocalServer, uri: str, task_id: int) -> bytes:
    """An image of a task as the browser gets it (Label Studio resolves storage URIs: an
    ``s3://`` URI becomes a redirect to a presigned URL that expires in 15 minutes)."""
    headers = {"Authorization": f"Token {label_studio.token}"}
    if uri.startswith("s3://"):
        encoded = base64.urlsafe_b64encode(uri.encode()).decode()
        request = urllib.request.Request(
            f"{label_studio.url}/tasks/{task_id}/resolve/?fileuri={encoded}", headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as redirect:
            urllib.request.build_opener(_NoRedirect).open(request, timeout=30)
        assert redirect.value.code in (302, 303, 307)
        location = redirect.value.headers["Location"]
        redirect.value.close()
        assert "X-Amz-Expires=900" in location and "X-Amz-Signature=" in location
        with urllib.request.urlopen(location, timeout=30) as response:
            return bytes(response.read())
    request = urllib.request.Request(label_studio.url + uri, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return bytes(response.read())


def test_push_renderings_reference_and_preannotations(
    store: CaptureStore, ls_client: LabelStudio, label_studio: LocalServer
) -> None:
    ids = fill_phantom(store)
    renderings = rendering_store(store, document_root=label_studio.document_root)
    predictor = tiny_predictor(8)
    report = push(store, ls_client, "burn-depth", renderings, predictor=predictor)
    assert sorted(report.pushed) == sorted(ids) and not report.failed
    assert {store.get_record(i).label_status for i in ids} == {"queued"}

    tasks = {t.data["capture_id"]: t for t in ls_client.tasks.list(project=report.project_id)}
    assert set(tasks) == set(ids)
    last = tasks[ids[1]]  # the subject's second capture: one earlier thumbnail
    record = store.get_record(ids[1])
    assert record.subject in last.data["reference"]
    assert len(last.data["earlier"]) == 1 and last.data["earlier_titles"].startswith("1: ")
    assert tasks[ids[0]].data["earlier"] == [] and tasks[ids[0]].data["earlier_titles"] == "none"
    thumb = fetch(label_studio, last.data["earlier"][0], last.id)
    assert thumb.startswith(b"\x89PNG")
    assert "Biopsy depth" in last.data["reference"]
    assert len(last.data["bands"]) == 8 and "420 nm" in last.data["band_titles"]
    png = fetch(label_studio, last.data["image"], last.id)
    assert png.startswith(b"\x89PNG")
    band = fetch(label_studio, last.data["bands"][3], last.id)
    assert band.startswith(b"\x89PNG") and band != png

    full = ls_client.tasks.get(last.id)
    (prediction,) = full.predictions
    assert prediction.model_version == "tiny@0" and 0 <= prediction.score <= 1
    expected = predictor.predict(store.get_capture(ids[1])).labels
    decoded = results_to_mask(prediction.result, task_labels("burn-depth"), (SIZE, SIZE))
    np.testing.assert_array_equal(decoded, expected)


def test_push_is_idempotent_and_reports_deleted_tasks(
    store: CaptureStore, ls_client: LabelStudio, label_studio: LocalServer
) -> None:
    ids = fill_phantom(store, subjects=1, captures=3)
    renderings = rendering_store(store, document_root=label_studio.document_root)
    first = push(store, ls_client, "burn-depth", renderings, limit=2)
    assert first.pushed == ids[:2]
    again = push(store, ls_client, "burn-depth", renderings)
    assert again.pushed == ids[2:] and sorted(again.already) == sorted(ids[:2])
    assert push(store, ls_client, "burn-depth", renderings).pushed == []
    in_ls = pushed_captures(ls_client, first.project_id)
    assert sorted(in_ls) == sorted(ids)

    ls_client.tasks.delete(in_ls[ids[0]])
    report = push(store, ls_client, "burn-depth", renderings)
    assert report.deleted == [ids[0]] and report.pushed == []
    report = push(store, ls_client, "burn-depth", renderings, repush_deleted=True)
    assert report.pushed == [ids[0]]


def test_server_down_is_refused() -> None:
    from labeling.client import connect
    from labeling.server import free_port

    with (
        pytest.raises(LabelingError, match="is not reachable"),
        connect(f"http://127.0.0.1:{free_port()}", "x"),
    ):
        pass
