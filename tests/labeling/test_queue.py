"""The uncertainty queue: ranking by mean predictive entropy, pushing the top K."""

from __future__ import annotations

import numpy as np
import pytest
from label_studio_sdk import LabelStudio

from labeling.push import pushed_captures
from labeling.queue import normalised_entropy, queue, rank
from labeling.renderings import rendering_store
from labeling.server import LocalServer
from tests.labeling.conftest import fill_phantom, tiny_predictor
from wound.store.base import CaptureStore


def test_normalised_entropy_bounds() -> None:
    certain = np.zeros((6, 2, 2))
    certain[3] = 1
    uniform = np.full((6, 2, 2), 1 / 6)
    assert normalised_entropy(certain).max() == pytest.approx(0, abs=1e-9)
    assert normalised_entropy(uniform).min() == pytest.approx(1, abs=1e-6)


def test_rank_orders_by_entropy_over_the_predicted_wound(store: CaptureStore) -> None:
    ids = fill_phantom(store, subjects=2, captures=2)
    predictor = tiny_predictor(8)
    ranked = rank(store, predictor, "burn-depth")
    assert sorted(r.capture_id for r in ranked) == sorted(ids)
    scores = [r.entropy for r in ranked]
    assert scores == sorted(scores, reverse=True)
    for r in ranked:
        prediction = predictor.predict(store.get_capture(r.capture_id))
        region = prediction.wound_mask if prediction.wound_mask.any() else slice(None)
        assert r.entropy == pytest.approx(
            float(normalised_entropy(prediction.probabilities)[region].mean()), rel=1e-5
        )


@pytest.mark.integration
def test_queue_pushes_the_top_k_most_uncertain(
    store: CaptureStore, ls_client: LabelStudio, label_studio: LocalServer
) -> None:
    ids = fill_phantom(store, subjects=2, captures=2)
    predictor = tiny_predictor(8)
    expected = [r.capture_id for r in rank(store, predictor, "burn-depth")[:2]]
    renderings = rendering_store(store, document_root=label_studio.document_root)
    ranked, report = queue(store, ls_client, "burn-depth", renderings, predictor, top=2)
    assert [r.capture_id for r in ranked] == expected == report.pushed
    assert sorted(pushed_captures(ls_client, report.project_id)) == sorted(expected)
    statuses = {i: store.get_record(i).label_status for i in ids}
    assert sorted(i for i, s in statuses.items() if s == "queued") == sorted(expected)
    # the next call ranks only what is still unlabelled
    nxt, _ = queue(store, ls_client, "burn-depth", renderings, predictor, top=5)
    assert sorted(r.capture_id for r in nxt) == sorted(set(ids) - set(expected))
