"""Pushing tasks to Label Studio: bulk import vs one task per request, in one run.

A real Label Studio (its own venv, temp data dir, loopback) and an embedded store of ``--tasks``
phantom captures (8 bands, ``--size`` px). Each task is built once (renderings written, the
reference panel and a pre-annotation as brush RLE); then the same tasks are imported into two
fresh projects each:

- baseline: one ``POST /api/projects/<id>/import`` per task (what a loop over tasks does);
- ours: ``push``'s bulk import, ``--batch`` tasks per request.

Two kinds of pre-annotation, since their size drives Label Studio's per-task cost: smooth
regions like a trained model's (the phantom's truth map through the same converter) and the
per-pixel noise of an untrained seeded network (worst case). Prints tasks/s and the ratio
(target >= 10x); also the end-to-end ``push`` time (render, predict, bulk import).
Usage: python benchmarks/label_push.py [--tasks 200]
Writes bench-out/label_push.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.brush import mask_to_results  # noqa: E402
from labeling.client import connect  # noqa: E402
from labeling.config import labeling_config, task_labels  # noqa: E402
from labeling.push import push  # noqa: E402
from labeling.renderings import rendering_store  # noqa: E402
from labeling.task_data import build_task  # noqa: E402
from tests.labeling.conftest import fill_phantom, local_server, tiny_predictor  # noqa: E402
from wound.phantom import PhantomConfig  # noqa: E402
from wound.store import LocalStore  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="label-push-"))
    server = local_server(work / "ls", work, username="bench@wound.local")
    with LocalStore(work / "home") as store, server:
        store.init()
        subjects = -(-args.tasks // 4)
        fill_phantom(
            store,
            subjects=subjects,
            captures=4,
            seed=11,
            size=args.size,
            key=b"bench",
            limit=args.tasks,
        )
        predictor = tiny_predictor(len(PhantomConfig().wavelengths_nm))
        renderings = rendering_store(store, document_root=work)
        labels = task_labels("burn-depth")
        with connect(server.url, server.token) as client:
            t0 = time.perf_counter()
            report = push(store, client, "burn-depth", renderings, predictor=predictor)
            push_s = time.perf_counter() - t0
            assert len(report.pushed) == args.tasks, report
            records = list(store.iter_captures())
            noisy = [build_task(store, r, labels, renderings, predictor=predictor) for r in records]
            smooth = []
            for record, task in zip(records, noisy, strict=True):
                truth = store.get_capture(record.capture_id).truth
                assert truth is not None and truth.depth is not None
                prediction = dict(
                    task["predictions"][0], result=mask_to_results(truth.depth, labels)
                )
                smooth.append(dict(task, predictions=[prediction]))
            config_xml = labeling_config("burn-depth")
            rows = {}
            for name, tasks in (("smooth", smooth), ("untrained", noisy)):
                rows[name] = measure(client, config_xml, name, tasks, args.batch)
    result = {
        "tasks": args.tasks,
        "size": args.size,
        "batch": args.batch,
        "push_end_to_end_s": push_s,
        **{f"{name}_{k}": v for name, row in rows.items() for k, v in row.items()},
    }
    print(f"{args.tasks} tasks of {args.size} x {args.size} px with pre-annotations")
    print(f"{'pre-annotation':<34} {'KiB/task':>8} {'one/request':>12} {'bulk':>8} {'ratio':>7}")
    for name, row in rows.items():
        print(
            f"{DESCRIPTION[name]:<34} {row['task_json_kb']:8.1f} "
            f"{row['one_per_request_tasks_per_s']:12.1f} {row['bulk_tasks_per_s']:8.1f} "
            f"{row['ratio']:6.1f}x"
        )
    print("(tasks/s; ratio = bulk / one task per request, target >= 10)")
    print(f"push end to end (render, predict, bulk import): {push_s:.1f} s")
    shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "label_push.json").write_text(json.dumps(result, indent=2) + "\n")


DESCRIPTION = {
    "smooth": "smooth regions (phantom truth)",
    "untrained": "untrained network (noise)",
}


def measure(
    client: Any, config_xml: str, name: str, tasks: list[dict[str, Any]], batch: int
) -> dict[str, float]:
    """Import ``tasks`` one per request, then in bulk, each into a fresh project."""
    one_id = int(client.projects.create(title=f"bench {name} one", label_config=config_xml).id)
    t0 = time.perf_counter()
    for task in tasks:
        client.projects.import_tasks(one_id, request=[task])
    one_s = time.perf_counter() - t0
    bulk_id = int(client.projects.create(title=f"bench {name} bulk", label_config=config_xml).id)
    t0 = time.perf_counter()
    for i in range(0, len(tasks), batch):
        client.projects.import_tasks(bulk_id, request=tasks[i : i + batch])
    bulk_s = time.perf_counter() - t0
    for pid in (one_id, bulk_id):
        assert client.projects.get(pid).task_number == len(tasks)
    return {
        "task_json_kb": len(json.dumps(tasks)) / 1024 / len(tasks),
        "one_per_request_tasks_per_s": len(tasks) / one_s,
        "bulk_tasks_per_s": len(tasks) / bulk_s,
        "ratio": one_s / bulk_s,
    }


if __name__ == "__main__":
    main()
