"""A writer killed mid-write leaves a temp file: `check` reports it once it is stale, and
`--repair` removes it; a live writer's fresh temp file is left alone."""

from __future__ import annotations

import os
import time
from pathlib import Path

from wound.store.local import TEMP_PREFIX, LocalStore


def test_stale_temp_files_are_orphans_and_repaired(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "home")
    store.init()
    with store:
        folder = tmp_path / "home" / "objects" / "captures" / "cap-x" / "tok"
        folder.mkdir(parents=True)
        stale = folder / f"{TEMP_PREFIX}killed"
        fresh = folder / f"{TEMP_PREFIX}writing"
        stale.write_bytes(b"partial")
        fresh.write_bytes(b"partial")
        hour_ago = time.time() - 3700
        os.utime(stale, (hour_ago, hour_ago))

        findings = store.check()
        assert findings["orphans"] == ["captures/cap-x/tok/.tmp-killed"]
        assert stale.exists()  # reported, not removed, without repair

        repaired = store.check(repair=True)["repaired"]
        assert repaired == ["captures/cap-x/tok/.tmp-killed"]
        assert not stale.exists() and fresh.exists()

        assert store.check(temp_grace_s=0)["orphans"] == ["captures/cap-x/tok/.tmp-writing"]
