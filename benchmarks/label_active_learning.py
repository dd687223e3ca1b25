"""One active-learning loop on the phantom, through a real Label Studio, vs random choice.

1. A phantom cohort in an embedded store; the last ``--test-subjects`` subjects are a held-out
   test set, the rest the unlabelled pool.
2. ``--initial`` random pool captures get labels (phantom truth stored as annotations); a small
   UNet is trained on them from the store (``training.run.train``, ``label: latest``).
3. Active learning: ``labeling.queue.rank`` orders the pool by mean predictive entropy over
   the predicted wound; the top ``--k`` are pushed to Label Studio with pre-annotations,
   "annotated" there through the API from phantom truth (as a clinician's browser would save
   them), pulled back into the store as annotation versions, and the model is retrained on
   initial + k.
4. Baseline, same run: ``--k`` pool captures chosen at random, the same push/annotate/pull
   path, retrained on initial + k.

Prints the test-set Dice (mean over the burn classes present, and wound vs not) of the three
models and the mean entropy of the chosen captures. Small and single-seed: an illustration of
the loop, not a study. Usage: python benchmarks/label_active_learning.py
Writes bench-out/label_active_learning.json.
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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labeling.agreement import dice_per_class  # noqa: E402
from labeling.brush import mask_to_results  # noqa: E402
from labeling.client import connect  # noqa: E402
from labeling.config import task_labels  # noqa: E402
from labeling.pull import pull  # noqa: E402
from labeling.push import push, pushed_captures  # noqa: E402
from labeling.queue import rank  # noqa: E402
from labeling.renderings import rendering_store  # noqa: E402
from tests.labeling.conftest import fill_phantom, local_server  # noqa: E402
from training.config import parse_config  # noqa: E402
from training.run import train  # noqa: E402
from wound.predict import Predictor  # noqa: E402
from wound.store import LocalStore  # noqa: E402
from wound.store.base import CaptureStore  # noqa: E402
from wound.taxonomy import WOUND_CLASSES  # noqa: E402

TASK = "burn-depth"


def run_config(ids: list[str], out: Path, args: argparse.Namespace) -> Any:
    return parse_config(
        {
            "task": TASK,
            "network": {"channels": [16, 32, 64], "strides": [2, 2], "num_res_units": 1},
            "data": {"source": "store", "label": "latest", "filter": {"capture_ids": ids}},
            "split": {"val_fraction": 0.25, "seed": 0},
            "patch_size": [48, 48],
            "crops_per_capture": 8,
            "batch_size": 8,
            "epochs": args.epochs,
            "lr": 0.003,
            "early_stopping": {"patience": args.epochs, "metric": "val_loss"},
            "seed": args.seed,
            "output_dir": str(out),
            "progress": False,
        }
    )


def fit(store: CaptureStore, ids: list[str], out: Path, args: argparse.Namespace) -> Predictor:
    result = train(run_config(ids, out, args), store=store)
    return Predictor(
        result.model, result.model_info, model_id=out.name, model_version="0", device="cpu"
    )


def test_dice(store: CaptureStore, predictor: Predictor, test_ids: list[str]) -> dict[str, float]:
    """Mean over test captures of: Dice of each burn class present in truth (averaged), wound."""
    classes, wound = [], []
    for cid in test_ids:
        capture = store.get_capture(cid)
        assert capture.truth is not None and capture.truth.depth is not None
        truth = capture.truth.depth
        labels = predictor.predict(capture).labels
        scores = dice_per_class(labels, truth, 6)
        present = [k for k in WOUND_CLASSES if (truth == k).any()]
        classes.append(float(np.nanmean([scores[k] for k in present])))
        w_truth, w_pred = np.isin(truth, WOUND_CLASSES), np.isin(labels, WOUND_CLASSES)
        inter = float((w_truth & w_pred).sum())
        wound.append(2 * inter / max(1.0, float(w_truth.sum() + w_pred.sum())))
    return {"burn_class_dice": float(np.mean(classes)), "wound_dice": float(np.mean(wound))}


def label_through_label_studio(
    store: CaptureStore, client: Any, renderings: Any, ids: list[str], predictor: Predictor
) -> None:
    """Push ``ids``, save truth as each task's annotation through the API, pull."""
    labels = task_labels(TASK)
    report = push(store, client, TASK, renderings, predictor=predictor, capture_ids=ids)
    tasks = pushed_captures(client, report.project_id)
    for cid in ids:
        truth = store.get_capture(cid).truth
        assert truth is not None and truth.depth is not None
        if not store.list_annotations(cid, task=TASK):
            client.annotations.create(tasks[cid], result=mask_to_results(truth.depth, labels))
    pulled = pull(store, client, TASK)
    assert not pulled.failed, pulled.failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=12)
    parser.add_argument("--captures", type=int, default=3)
    parser.add_argument("--test-subjects", type=int, default=3)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--initial", type=int, default=4)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t_start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="label-al-"))
    server = local_server(work / "ls", work, username="al@wound.local")
    rng = np.random.default_rng(args.seed)
    with LocalStore(work / "home") as store, server:
        store.init()
        by_subject: dict[str, list[str]] = {}
        for cid in fill_phantom(
            store,
            subjects=args.subjects,
            captures=args.captures,
            seed=21,
            size=args.size,
            key=b"active-learning",
        ):
            by_subject.setdefault(store.get_record(cid).subject, []).append(cid)
        subjects = list(by_subject)
        test_ids = [c for s in subjects[-args.test_subjects :] for c in by_subject[s]]
        pool = [c for s in subjects[: -args.test_subjects] for c in by_subject[s]]
        initial = [str(c) for c in rng.choice(pool, size=args.initial, replace=False)]
        for cid in initial:
            truth = store.get_capture(cid).truth
            assert truth is not None and truth.depth is not None
            store.add_annotation(cid, truth.depth, task=TASK, annotator="phantom", source="phantom")
        rest = [c for c in pool if c not in initial]
        model0 = fit(store, initial, work / "al-0", args)
        scores = {"initial": test_dice(store, model0, test_ids)}
        ranked = rank(store, model0, TASK, capture_ids=rest)
        entropy = {r.capture_id: r.entropy for r in ranked}
        chosen = {
            "active": [r.capture_id for r in ranked[: args.k]],
            "random": [str(c) for c in rng.choice(rest, size=args.k, replace=False)],
        }
        renderings = rendering_store(store, document_root=work)
        with connect(server.url, server.token) as client:
            for ids in chosen.values():
                label_through_label_studio(store, client, renderings, ids, model0)
        for arm, ids in chosen.items():
            model = fit(store, initial + ids, work / f"al-{arm}", args)
            scores[arm] = test_dice(store, model, test_ids)
    result = {
        "args": vars(args),
        "test_captures": len(test_ids),
        "pool": len(pool),
        "scores": scores,
        "chosen_mean_entropy": {
            a: float(np.mean([entropy[c] for c in ids])) for a, ids in chosen.items()
        },
        "pool_mean_entropy": float(np.mean(list(entropy.values()))),
        "wall_s": time.perf_counter() - t_start,
    }
    print(
        f"pool {len(pool)} captures, test {len(test_ids)} captures ({args.test_subjects} "
        f"subjects), {args.initial} initial labels, +{args.k} per arm, {args.epochs} epochs"
    )
    print(f"{'model':<28} {'burn-class Dice':>16} {'wound Dice':>11} {'chosen entropy':>15}")
    for arm in ("initial", "random", "active"):
        ent = result["chosen_mean_entropy"].get(arm)
        print(
            f"{arm + (f' (+{args.k})' if arm != 'initial' else ''):<28} "
            f"{scores[arm]['burn_class_dice']:16.3f} {scores[arm]['wound_dice']:11.3f} "
            f"{'' if ent is None else f'{ent:.3f}':>15}"
        )
    print(f"pool mean entropy {result['pool_mean_entropy']:.3f}; {result['wall_s']:.0f} s")
    shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    (out / "label_active_learning.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
