"""DDP: two gloo processes under torchrun end with identical weights; only rank 0 writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from training.config import RunConfig

SCRIPT = """
import hashlib, json, os, sys
from training.config import load_config
from training.run import train

result = train(load_config(sys.argv[1]))
digest = hashlib.sha256()
for name, tensor in sorted(result.model.state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
out = {"rank": result.rank, "world": result.world_size, "sha256": digest.hexdigest(),
       "epochs": result.epochs_run, "val": result.best_metrics}
with open(os.path.join(sys.argv[2], f"rank{result.rank}.json"), "w") as f:
    json.dump(out, f)
"""


@pytest.mark.slow
def test_two_gloo_processes_end_identical(
    tiny_config: Callable[..., RunConfig], tmp_path: Path
) -> None:
    config = tiny_config(
        epochs=1,
        data={
            "source": "phantom",
            "phantom": {
                "subjects": 5,
                "captures_per_subject": 2,
                "seed": 3,
                "config": {"height": 48, "width": 48},
            },
        },
    )
    config_path = config.save(tmp_path / "run.yaml")
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(script),
            str(config_path),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["sha256"] == ranks[1]["sha256"]
    assert ranks[0]["val"] == ranks[1]["val"]  # rank 0's validation, broadcast
    run = Path(config.output_dir)
    assert (run / "checkpoint.pt").exists()
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1  # rank 0 only
