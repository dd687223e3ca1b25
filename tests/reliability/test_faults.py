"""Transient faults, bounded for CI (40 captures + one multipart cube through a proxy that
fails 20% of S3 and DynamoDB calls; ``make reliability``: 100): nothing lost or duplicated,
botocore's standard retry mode does the retrying, multipart parts survive."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import faults
from reliability.common import print_table
from wound.settings import Settings
from wound.store import AwsStore

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_ingest_through_a_faulty_network_loses_and_duplicates_nothing(
    tmp_path: Path, moto_server: str
) -> None:
    figures = faults.run(workdir=tmp_path, endpoint=moto_server, files=40)
    table = print_table(figures)
    assert all(f.met for f in figures), table


def test_the_retry_policy_is_botocores_from_settings(aws_env: str) -> None:
    from wound.store import open_store

    settings = Settings(backend="aws", aws_retry_mode="adaptive", aws_max_attempts=7)
    store = open_store(settings)
    assert isinstance(store, AwsStore)
    for client in (store.objects.client, store.records.client):  # type: ignore[attr-defined]
        retries = client.meta.config.retries
        assert retries["mode"] == "adaptive" and retries["total_max_attempts"] == 7
    store.close()


def test_a_write_applied_but_answered_with_an_error_keeps_its_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fault proxy's applied-then-500 mode: botocore's retry of a conditional put
    that had been applied met RecordExistsError, and the store then deleted the objects its own
    record refers to (a record pointing at nothing)."""
    import numpy as np

    from reliability.scale import _capture
    from wound.errors import RecordExistsError
    from wound.store import LocalStore

    store = LocalStore(tmp_path / "home")
    store.init()
    original = store.records.put_if_absent

    def applied_then_lost(table, item):  # type: ignore[no-untyped-def]
        original(table, item)
        raise RecordExistsError("answer lost; the retry found the record")

    monkeypatch.setattr(store.records, "put_if_absent", applied_then_lost)
    put = store.put_capture(_capture(1))
    assert put.created
    record = store.add_annotation(
        put.capture_id, np.ones((8, 8), np.uint8), task="burn-depth", annotator="a", source="import"
    )
    assert record.version == 1
    monkeypatch.undo()
    assert store.get_capture(put.capture_id).cube.shape == (4, 8, 8)
    assert [a.version for a in store.list_annotations(put.capture_id)] == [1]
    assert store.check() == {"orphans": [], "missing": [], "mismatched": [], "repaired": []}
