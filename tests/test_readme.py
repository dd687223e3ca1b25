"""The README's quickstart runs as written: every ```bash block after a ``<!-- readme-test -->``
comment, in order, in one bash session (a variable set in one block is seen by the next), on a
fresh embedded store in a temporary folder. ``make ...`` lines are left out: the test already
runs inside the project's virtual environment, whose ``bin/`` comes first on PATH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = "<!-- readme-test -->"


def runnable_blocks(text: str) -> list[str]:
    """The bash blocks that follow the ``readme-test`` mark, in order."""
    return re.findall(re.escape(MARK) + r"\s*```bash\n(.*?)```", text, flags=re.DOTALL)


def script_of(blocks: list[str]) -> str:
    lines = ["set -euo pipefail"]
    for block in blocks:
        lines += [line for line in block.splitlines() if not line.lstrip().startswith("make ")]
    return "\n".join(lines) + "\n"


def test_the_marked_blocks_are_found() -> None:
    blocks = runnable_blocks(README.read_text())
    assert len(blocks) >= 2
    script = script_of(blocks)
    assert "wound show" in script and "wound export" in script and "make venv" not in script


@pytest.mark.slow
def test_readme_quickstart_runs_as_written(tmp_path: Path) -> None:
    script = script_of(runnable_blocks(README.read_text()))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "WOUND_HOME": str(tmp_path / "store"),
        "WOUND_PSEUDONYM_KEY": "readme-test-key",
        "WOUND_BACKEND": "local",
    }
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (
        f"README quickstart failed:\n{script}\n{done.stdout}\n{done.stderr}"
    )
    out = done.stdout
    assert re.search(r"cap-[0-9a-f]+", out)  # wound show printed the record of a real id
    assert (tmp_path / "s0c0.tif").stat().st_size > 0 and (tmp_path / "s0c0.png").exists()
    assert "phantom-dfu001" in out or "visit" in out.lower()
