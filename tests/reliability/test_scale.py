"""Scale, bounded for CI (1,000 records per backend; ``make reliability``: 10,000): listing
pages by subject and label status and the bounded store check run clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import scale
from reliability.common import print_table
from wound.store import LocalStore

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_a_thousand_records_page_and_check_clean(tmp_path: Path, moto_server: str) -> None:
    figures = scale.run(workdir=tmp_path, endpoint=moto_server, records=1000)
    table = print_table(figures)
    assert all(f.met for f in figures), table


def test_a_sampled_check_still_finds_size_changes_missing_objects_and_orphans(
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "home")
    store.init()
    ids = [store.put_capture(scale._capture(i)).capture_id for i in range(5)]
    records = [store.get_record(cid) for cid in ids]
    objects = store.home / "objects"
    (objects / records[0].cube.key).write_bytes(b"short")  # size changed
    (objects / records[1].preview.key).unlink()  # missing
    (objects / "captures" / "stray.bin").write_bytes(b"x")  # orphan
    found = store.check(hash_sample=0)
    assert found["mismatched"] == [records[0].cube.key]
    assert found["missing"] == [records[1].preview.key]
    assert found["orphans"] == ["captures/stray.bin"]
