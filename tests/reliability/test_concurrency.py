"""Concurrent writers, bounded for CI (8 processes; 2 captures x 3 rounds of annotation
versions each, 20 files ingested by all 8): no lost update, each capture once, both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import concurrency
from reliability.common import print_table

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_eight_writers_lose_nothing_and_store_each_capture_once(
    tmp_path: Path, moto_server: str
) -> None:
    figures = concurrency.run(
        workdir=tmp_path, endpoint=moto_server, processes=8, captures=2, rounds=3, files=20
    )
    table = print_table(figures)
    assert all(f.met for f in figures), table
