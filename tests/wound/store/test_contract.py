"""One contract, both backends: every test runs on LocalStore and on AwsStore (moto_server)."""

from __future__ import annotations

import dataclasses
import json
import random
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from wound.capture import Capture, CaptureMetadata
from wound.errors import (
    CaptureConflictError,
    IntegrityError,
    RecordExistsError,
    RecordNotFoundError,
    StoreError,
)
from wound.pseudonym import pseudonymise
from wound.store import CaptureStore
from wound.store.codec import CAPTURES
from wound.store.core import CaptureCore

# Fixtures from conftest.py: new_capture(n, subject=, wound_id=, capture_id=, truth=) and
# backdoor (.put(key, data) / .delete(key) on the raw objects).
NewCapture = Callable[..., Capture]
Backdoor = Any
SUBJECT = pseudonymise("patient-1", b"k")
OTHER_SUBJECT = pseudonymise("patient-2", b"k")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


# --- captures -----------------------------------------------------------------------------
def test_round_trip(store: CaptureStore, new_capture: NewCapture) -> None:
    capture = new_capture(1, capture_id="dev-0001")
    put = store.put_capture(capture)
    cid = put.capture_id
    assert cid == capture.identity() and cid.startswith("cap-") and put.created
    back = store.get_capture(cid)
    np.testing.assert_array_equal(back.cube, capture.cube)
    assert back.cube.dtype == np.float32
    assert back.header() == capture.header()
    assert back.truth is not None and capture.truth is not None
    assert back.truth.arrays().keys() == capture.truth.arrays().keys()
    for name, array in capture.truth.arrays().items():
        np.testing.assert_array_equal(back.truth.arrays()[name], array)
    assert store.get_preview(cid).startswith(PNG_MAGIC)
    record = store.get_record(cid)
    assert record.shape == (4, 16, 16) and record.label_status == "unlabelled"
    assert record.subject == SUBJECT and record.wavelengths_nm == capture.wavelengths
    assert record.header["metadata"]["capture_id"] == "dev-0001"  # the device's id: record only
    keys = [record.cube.key, record.preview.key, record.truth.key if record.truth else ""]
    token = keys[0].split("/")[2]
    assert keys == [f"captures/{cid}/{token}/{n}" for n in ("cube.tif", "preview.png", "truth.npz")]


def test_keys_hold_only_ids_the_platform_makes(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    """No device capture id, wound label or other free text in an object key or index key."""
    assert isinstance(store, CaptureCore)
    capture = new_capture(1, capture_id="John_Smith_MRN_123456", wound_id="left heel of J Smith")
    cid = store.put_capture(capture).capture_id
    item = store.records.get(CAPTURES, {"capture_id": cid})
    assert item is not None
    index_values = " ".join(str(v) for k, v in item.items() if k != "body")
    keys = " ".join(store.objects.list_keys())
    for text in ("Smith", "123456", "heel"):
        assert text not in index_values and text not in keys and text not in cid
    assert store.get_record(cid).header["metadata"]["capture_id"] == "John_Smith_MRN_123456"
    found = store.list_captures(subject=SUBJECT, wound_id="left heel of J Smith").items
    assert [r.capture_id for r in found] == [cid]


def test_same_device_id_with_other_content_is_a_conflict(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    first = store.put_capture(new_capture(1, capture_id="dev-7"))
    same = store.put_capture(new_capture(1, capture_id="dev-7"))
    assert same == (first.capture_id, False)
    with pytest.raises(CaptureConflictError, match="different content"):
        store.put_capture(new_capture(2, capture_id="dev-7", subject=OTHER_SUBJECT))
    with pytest.raises(CaptureConflictError):  # same pixels, other metadata: also a conflict
        store.put_capture(new_capture(1, capture_id="dev-7", wound_id="w2"))
    assert [r.capture_id for r in store.list_captures().items] == [first.capture_id]
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}


def test_prepare_then_commit_is_put_capture(
    store: CaptureStore, new_capture: NewCapture, backdoor: Backdoor
) -> None:
    """The two steps ``wound.pipeline.score_file`` schedules apart: prepare writes nothing;
    commit stores what put_capture stores, is idempotent and refuses other content."""
    capture = new_capture(1, capture_id="dev-8")
    prepared = store.prepare_capture(capture)
    assert prepared.capture_id == capture.identity() and prepared.digest
    assert isinstance(store, CaptureCore) and list(store.objects.list_keys()) == []
    assert store.commit_capture(prepared) == (prepared.capture_id, True)
    back = store.get_capture(prepared.capture_id)
    np.testing.assert_array_equal(back.cube, capture.cube)
    assert back.header() == capture.header()
    assert store.get_preview(prepared.capture_id).startswith(PNG_MAGIC)
    assert store.commit_capture(prepared) == (prepared.capture_id, False)
    assert store.put_capture(capture) == (prepared.capture_id, False)
    other = store.prepare_capture(new_capture(2, capture_id="dev-8", subject=OTHER_SUBJECT))
    with pytest.raises(CaptureConflictError):
        store.commit_capture(other)
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}
    with pytest.raises(StoreError, match="pseudonym"):
        store.prepare_capture(new_capture(3, subject="Jane Doe"))


def test_a_record_that_cannot_be_serialised_writes_nothing(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    """Validation bypassed (model_construct): the record fails before any object is written."""
    good = new_capture(1, truth=False)
    meta = CaptureMetadata.model_construct(
        **{**dict(good.metadata), "wound_id": "w\ud800", "capture_id": "dev-9"}
    )
    with pytest.raises(StoreError):
        store.put_capture(dataclasses.replace(good, metadata=meta))
    assert isinstance(store, CaptureCore) and list(store.objects.list_keys()) == []
    assert store.list_captures().items == []


def test_given_preview_is_stored_and_truth_optional(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    preview = PNG_MAGIC + b"given-by-ingest"
    put = store.put_capture(new_capture(2, truth=False), preview_png=preview)
    assert put.capture_id.startswith("cap-")  # content identity without a device id
    assert store.get_preview(put.capture_id) == preview
    assert store.get_record(put.capture_id).truth is None
    assert store.get_capture(put.capture_id).truth is None


def test_same_capture_twice_is_one_capture(store: CaptureStore, new_capture: NewCapture) -> None:
    first = store.put_capture(new_capture(3, truth=False))
    record = store.get_record(first.capture_id)
    again = store.put_capture(new_capture(3, truth=False))
    assert again.capture_id == first.capture_id and not again.created
    assert store.get_record(first.capture_id) == record  # nothing rewritten
    assert len(store.list_captures().items) == 1


def test_conditional_write_refuses_overwrite(store: CaptureStore, new_capture: NewCapture) -> None:
    assert isinstance(store, CaptureCore)
    put = store.put_capture(new_capture(4))
    before = store.get_record(put.capture_id)
    item = store.records.get(CAPTURES, {"capture_id": put.capture_id})
    assert item is not None
    forged = {**item, "label_status": "labelled", "body": item["body"].replace("unlab", "lab")}
    with pytest.raises(RecordExistsError):
        store.records.put_if_absent(CAPTURES, forged)
    assert store.records.replace(CAPTURES, forged, rev=item["rev"] + 7) is False  # stale rev
    assert store.get_record(put.capture_id) == before


def test_concurrent_put_of_same_capture_creates_one(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    capture = new_capture(5)
    results = in_threads(6, lambda _: store.put_capture(capture))
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.created for r in results) == 1
    assert {r.capture_id for r in results} == {capture.identity()}
    assert [r.capture_id for r in store.list_captures().items] == [capture.identity()]


def test_conditional_put_race_has_one_winner(store: CaptureStore) -> None:
    """The record primitive itself (no in-process lock): exactly one of racing creators wins."""
    assert isinstance(store, CaptureCore)
    item = {"capture_id": "race", "kind": "capture", "subject": SUBJECT, "body": "{}", "rev": 0}
    results = in_threads(
        8, lambda i: store.records.put_if_absent(CAPTURES, {**item, "sort": str(i)})
    )
    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, RecordExistsError) for r in results) == 7


def test_pagination_orders_by_capture_time(store: CaptureStore, new_capture: NewCapture) -> None:
    order = list(range(7))
    random.Random(0).shuffle(order)
    ids = {n: store.put_capture(new_capture(n, truth=False)).capture_id for n in order}
    first = store.list_captures(limit=3)
    assert len(first.items) == 3 and first.cursor
    assert "captures" not in first.cursor  # opaque
    seen = [r.capture_id for r in store.iter_captures(limit=3)]
    assert seen == [ids[n] for n in range(7)]
    with pytest.raises(StoreError, match="different query"):
        store.list_captures(subject=SUBJECT, cursor=first.cursor)
    with pytest.raises(StoreError, match="not a cursor"):
        store.list_captures(cursor="!!not-base64!!")


def test_query_by_subject_and_wound(store: CaptureStore, new_capture: NewCapture) -> None:
    plan = [(5, SUBJECT, "w1"), (1, SUBJECT, "w2"), (3, SUBJECT, "w1"), (2, OTHER_SUBJECT, "w1")]
    ids = {}
    for n, subject, wound in plan:
        ids[n] = store.put_capture(new_capture(n, subject=subject, wound_id=wound)).capture_id
    by_subject = store.list_captures(subject=SUBJECT).items
    assert [r.capture_id for r in by_subject] == [ids[1], ids[3], ids[5]]
    by_wound = list(store.iter_captures(subject=SUBJECT, wound_id="w1", limit=1))
    assert [r.capture_id for r in by_wound] == [ids[3], ids[5]]
    assert [r.capture_id for r in store.list_captures(subject=OTHER_SUBJECT).items] == [ids[2]]
    with pytest.raises(StoreError, match="subject"):
        store.list_captures(wound_id="w1")


def test_label_status_query_and_conditional_change(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    ids = [store.put_capture(new_capture(n, truth=False)).capture_id for n in range(3)]
    store.set_label_status(ids[2], "queued", expected="unlabelled")
    store.set_label_status(ids[0], "queued")
    queued = store.list_captures(label_status="queued").items
    assert [r.capture_id for r in queued] == [ids[0], ids[2]]
    assert [r.capture_id for r in store.list_captures(label_status="unlabelled").items] == [ids[1]]
    store.put_capture(new_capture(9, subject=OTHER_SUBJECT, truth=False))
    store.set_label_status(store.list_captures(subject=OTHER_SUBJECT).items[0].capture_id, "queued")
    mine = store.iter_captures(subject=SUBJECT, label_status="queued", limit=1)
    assert [r.capture_id for r in mine] == [ids[0], ids[2]]
    with pytest.raises(StoreError, match="expected 'unlabelled'"):
        store.set_label_status(ids[0], "in_progress", expected="unlabelled")
    assert store.get_record(ids[0]).label_status == "queued"
    with pytest.raises(RecordNotFoundError):
        store.set_label_status("nope", "queued")
    with pytest.raises(StoreError, match="not one of"):
        store.set_label_status(ids[0], "done")  # type: ignore[arg-type]


def test_concurrent_status_claims_have_one_winner(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    capture_id = store.put_capture(new_capture(0, truth=False)).capture_id
    results = in_threads(
        5, lambda _: store.set_label_status(capture_id, "in_progress", expected="unlabelled")
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, StoreError) for r in results if r is not None)


def test_set_quality(store: CaptureStore, new_capture: NewCapture) -> None:
    capture_id = store.put_capture(new_capture(0, truth=False)).capture_id
    store.set_quality(capture_id, {"ok": False, "saturated": np.float32(0.25)})
    assert store.get_record(capture_id).quality == {"ok": False, "saturated": 0.25}


def test_refuses_non_pseudonym_subject(store: CaptureStore, new_capture: NewCapture) -> None:
    with pytest.raises(StoreError, match="not a pseudonym"):
        store.put_capture(new_capture(0, subject="patient-1"))
    assert store.list_captures().items == []
    assert store.check()["orphans"] == []  # nothing written


# --- annotations --------------------------------------------------------------------------
def test_annotation_versions(store: CaptureStore, new_capture: NewCapture) -> None:
    capture_id = store.put_capture(new_capture(0, truth=False)).capture_id
    masks = [np.full((16, 16), v, dtype=np.uint8) for v in (1, 2, 3)]
    records = [
        store.add_annotation(capture_id, m, task="burn-depth", annotator="a1", source="test")
        for m in masks
    ]
    assert [r.version for r in records] == [1, 2, 3]
    assert records[0].mask.key == f"annotations/{capture_id}/burn-depth/1.png"
    other = store.add_annotation(
        capture_id, masks[0], task="healing", annotator="a2", source="test", extra={"n": 1}
    )
    assert other.version == 1 and other.extra == {"n": 1}
    latest, mask = store.get_annotation(capture_id, task="burn-depth")
    assert latest.version == 3
    np.testing.assert_array_equal(mask, masks[2])
    second, mask = store.get_annotation(capture_id, 2, task="burn-depth")
    assert second.version == 2 and mask.dtype == np.uint8
    np.testing.assert_array_equal(mask, masks[1])
    assert [r.version for r in store.list_annotations(capture_id, task="burn-depth")] == [1, 2, 3]
    assert len(store.list_annotations(capture_id)) == 4
    with pytest.raises(RecordNotFoundError):
        store.get_annotation(capture_id, 9, task="burn-depth")
    with pytest.raises(StoreError, match="does not match"):
        store.add_annotation(
            capture_id, np.zeros((8, 8), np.uint8), task="healing", annotator="a", source="t"
        )


def test_concurrent_annotations_get_distinct_versions(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    capture_id = store.put_capture(new_capture(0, truth=False)).capture_id
    results = in_threads(
        4,
        lambda i: store.add_annotation(
            capture_id, np.full((16, 16), i, np.uint8), task="burn-depth", annotator="a", source="t"
        ),
    )
    assert sorted(r.version for r in results) == [1, 2, 3, 4]
    for record in results:  # each version holds its own writer's mask
        _, mask = store.get_annotation(capture_id, record.version, task="burn-depth")
        assert mask[0, 0] == results.index(record)
    assert store.check()["mismatched"] == []


# --- predictions and models ---------------------------------------------------------------
def test_predictions(store: CaptureStore, new_capture: NewCapture) -> None:
    capture_id = store.put_capture(new_capture(0, truth=False)).capture_id
    depth = np.arange(256, dtype=np.uint8).reshape(16, 16) % 6
    record = store.put_prediction(
        capture_id, "m1", status="scored", score={"area_cm2": 1.5}, arrays={"depth": depth}
    )
    assert record.arrays is not None and record.arrays.key == f"predictions/{capture_id}/m1.npz"
    store.put_prediction(capture_id, "m2", status="refused", score={"reasons": ["saturated"]})
    with pytest.raises(RecordExistsError, match="delete it first"):
        store.put_prediction(capture_id, "m1", status="scored", score={})
    got, arrays = store.get_prediction(capture_id, "m1")
    assert got.score == {"area_cm2": 1.5}
    np.testing.assert_array_equal(arrays["depth"], depth)
    latest, arrays = store.get_prediction(capture_id)
    assert latest.model_id == "m2" and arrays == {}
    assert [p.model_id for p in store.list_predictions(capture_id)] == ["m1", "m2"]
    assert len(store.list_predictions()) == 2
    store.delete_prediction(capture_id, "m1")
    assert [p.model_id for p in store.list_predictions(capture_id)] == ["m2"]
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}
    store.put_prediction(capture_id, "m1", status="scored", score={"area_cm2": 2.0})  # recompute
    with pytest.raises(RecordNotFoundError):
        store.put_prediction("no-such-capture", "m1", status="scored", score={})
    with pytest.raises(StoreError, match="invalid record"):
        store.put_prediction(capture_id, "m3", status="maybe", score={})


def test_models(store: CaptureStore) -> None:
    with pytest.raises(RecordNotFoundError):
        store.get_model(task="burn-depth")
    store.put_model("m1", {"weights.pt": b"w1", "config.yaml": b"c"}, task="burn-depth", info={})
    store.put_model("m2", {"weights.pt": b"w2"}, task="wound-mask", info={"dice": 0.8})
    store.put_model("m3", {"weights.pt": b"w3"}, task="burn-depth", info={"auc": 0.9})
    assert store.get_model().model_id == "m3"
    assert store.get_model(task="wound-mask").model_id == "m2"
    assert store.get_model(task="burn-depth").info == {"auc": 0.9}
    assert store.get_model("m1").files["config.yaml"].key == "models/m1/config.yaml"
    assert store.get_model_file("m1", "weights.pt") == b"w1"
    assert [m.model_id for m in store.list_models()] == ["m1", "m2", "m3"]
    with pytest.raises(RecordExistsError):
        store.put_model("m1", {"weights.pt": b"x"}, task="burn-depth", info={})
    assert store.get_model_file("m1", "weights.pt") == b"w1"
    with pytest.raises(RecordNotFoundError, match="no file"):
        store.get_model_file("m1", "missing.bin")
    with pytest.raises(StoreError, match="file name"):
        store.put_model("m4", {"../evil": b"x"}, task="burn-depth", info={})


def test_add_model_file(store: CaptureStore) -> None:
    """A derived file (the cached ONNX export) joins a registered model; first writer wins."""
    store.put_model("m1", {"weights.pt": b"w1"}, task="burn-depth", info={"auc": 0.9})
    assert store.add_model_file("m1", "model.onnx", b"graph-a") == b"graph-a"
    assert store.get_model_file("m1", "model.onnx") == b"graph-a"
    record = store.get_model("m1")
    assert record.files["model.onnx"].key.startswith("models/m1/")
    assert record.info == {"auc": 0.9} and store.get_model_file("m1", "weights.pt") == b"w1"
    # another writer's bytes never replace the stored file (nor a registered one)
    assert store.add_model_file("m1", "model.onnx", b"graph-b") == b"graph-a"
    assert store.add_model_file("m1", "weights.pt", b"other") == b"w1"
    assert store.check()["orphans"] == []
    with pytest.raises(RecordNotFoundError):
        store.add_model_file("nope", "model.onnx", b"x")
    with pytest.raises(StoreError, match="file name"):
        store.add_model_file("m1", "../evil", b"x")
    # racing writers: one file, every caller gets the same bytes
    store.put_model("m2", {"weights.pt": b"w2"}, task="burn-depth", info={})
    got = in_threads(4, lambda i: store.add_model_file("m2", "model.onnx", f"g{i}".encode()))
    assert len(set(got)) == 1 and got[0] == store.get_model_file("m2", "model.onnx")


# --- integrity ----------------------------------------------------------------------------
def test_tampered_object_is_detected(
    store: CaptureStore, new_capture: NewCapture, backdoor: Backdoor
) -> None:
    capture_id = store.put_capture(new_capture(0)).capture_id
    record = store.get_record(capture_id)
    backdoor.put(record.cube.key, b"not the cube")
    with pytest.raises(IntegrityError, match=record.cube.key):
        store.get_capture(capture_id)
    backdoor.delete(record.preview.key)
    with pytest.raises(IntegrityError, match=f"{record.preview.key}: object is missing"):
        store.get_preview(capture_id)


def test_check_finds_and_repairs(
    store: CaptureStore, new_capture: NewCapture, backdoor: Backdoor
) -> None:
    capture_id = store.put_capture(new_capture(0)).capture_id
    second = store.put_capture(new_capture(1)).capture_id
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}
    orphan = "captures/cap-crashed/cube.tif"
    backdoor.put(orphan, b"left by a crash")
    record = store.get_record(capture_id)
    backdoor.delete(record.truth.key if record.truth else "")
    tampered = store.get_record(second).preview.key
    backdoor.put(tampered, b"changed")
    found = store.check()
    assert found == {
        "orphans": [orphan],
        "missing": [record.truth.key if record.truth else ""],
        "mismatched": [tampered],
        "repaired": [],
    }
    repaired = store.check(repair=True)
    assert repaired["repaired"] == [orphan]
    after = store.check()
    assert after["orphans"] == [] and after["missing"] == found["missing"]
    assert after["mismatched"] == [tampered]
    assert store.get_record(capture_id).capture_id == capture_id  # records never deleted


def test_records_written_before_platform_ids_still_load(
    store: CaptureStore, new_capture: NewCapture
) -> None:
    """An older record: the device id as key, no content digest, no captured_at_source."""
    assert isinstance(store, CaptureCore)
    put = store.put_capture(new_capture(1, capture_id="dev-old"))
    item = store.records.get(CAPTURES, {"capture_id": put.capture_id})
    assert item is not None
    body = json.loads(item["body"])
    body["capture_id"] = "dev-old"
    body.pop("content_sha256")
    body["header"]["metadata"].pop("captured_at_source")
    old = {**item, "capture_id": "dev-old", "body": json.dumps(body), "sort": "0#dev-old"}
    store.records.put_if_absent(CAPTURES, old)
    record = store.get_record("dev-old")
    assert record.content_sha256 is None and record.capture_id == "dev-old"
    np.testing.assert_array_equal(store.get_capture("dev-old").cube, new_capture(1).cube)
    assert {r.capture_id for r in store.list_captures().items} == {"dev-old", put.capture_id}
