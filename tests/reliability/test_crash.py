"""Crash consistency, bounded for CI (3 SIGKILLed ingests of 30 captures and 1 killed
``predict --all`` per backend; ``make reliability``: 20 trials of 100): after the rerun the
store's check is clean and every capture (and prediction) exists exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from reliability import crash
from reliability.common import print_table

pytestmark = [pytest.mark.reliability, pytest.mark.integration, pytest.mark.slow]


def test_killed_ingest_and_predict_leave_a_consistent_store(
    tmp_path: Path, moto_server: str
) -> None:
    figures = crash.run(
        workdir=tmp_path, endpoint=moto_server, n_files=30, trials=3, predict_trials_n=1
    )
    table = print_table(figures)
    assert all(f.met for f in figures), table
