"""Patient timeline: visits of an ingested ulcer series, areas, change, 4-week verdict, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wound.cli.main import app
from wound.errors import RecordNotFoundError
from wound.ingest import find_capture_files, ingest_files
from wound.io import ReadLimits, write_capture
from wound.phantom import PhantomConfig, synth_series
from wound.phantom.series import make_ulcer_subject
from wound.pseudonym import pseudonymise
from wound.scoring import AreaUnit, WoundScore
from wound.store import CaptureStore
from wound.store.local import LocalStore
from wound.timeline import VERDICT_REDUCTION_PERCENT, Timeline, Visit, wound_timeline

KEY = b"timeline-key"
CONFIG = PhantomConfig(height=64, width=64, spacing_mm=0.5)
SEED = 5


def _series_dir(root: Path, *, kind: str = "dfu", subjects: int = 2, visits: int = 6) -> Path:
    folder = root / f"{kind}-series"
    folder.mkdir()
    for capture in synth_series(
        kind=kind,  # type: ignore[arg-type]
        subjects=subjects,
        visits=visits,
        seed=SEED,
        config=CONFIG,
    ):
        write_capture(capture, folder / f"{capture.identity()}.tif")
    return folder


def _ingest(store: CaptureStore, folder: Path, key: bytes = KEY) -> None:
    results = ingest_files(
        find_capture_files([folder]), store, pseudonym_key=key, limits=ReadLimits(), workers=1
    )
    assert all(r.status == "created" for r in results), [r.error for r in results]


def _score(capture_id: str, area_cm2: float, model_id: str) -> WoundScore:
    """A stored-score-shaped wound score with just an area (as a wound-mask model gives)."""
    return WoundScore(
        capture_id=capture_id,
        task="wound-mask",
        model_id=model_id,
        model_version="test",
        unit=AreaUnit.CM2,
        spacing_mm=0.5,
        pixel_area=0.0025,
        shape=(64, 64),
        wound_pixels=round(area_cm2 / 0.0025),
        wound_area=area_cm2,
        classes=[],
        non_healing_pixels=None,
        non_healing_area=None,
        non_healing_share=None,
        non_healing_contours=[],
        indeterminate_pixels=0,
        indeterminate_area=0.0,
        indeterminate_share=0.0,
    )


def test_timeline_of_an_ingested_ulcer_series(store: CaptureStore, tmp_path: Path) -> None:
    _ingest(store, _series_dir(tmp_path))
    course = make_ulcer_subject(SEED, 1, CONFIG).course
    timeline = wound_timeline(store, "phantom-dfu001", pseudonym_key=KEY)
    assert isinstance(timeline, Timeline)
    assert timeline.subject == pseudonymise("phantom-dfu001", KEY)
    assert len(timeline.wounds) == 1
    wound = timeline.wounds[0]
    assert wound.wound_type == "dfu" and wound.wound_id.startswith("wnd-")
    assert [v.visit for v in wound.visits] == [1, 2, 3, 4, 5, 6]
    assert [v.days_since_first_visit for v in wound.visits] == [0, 7, 14, 21, 28, 35]
    first = wound.visits[0]
    assert first.percent_reduction == 0.0
    for v in wound.visits:
        assert v.area_source == "ground truth" and v.model_id is None
        assert v.prediction_status is None and v.healing_probability is None
        assert v.area_cm2 is not None and first.area_cm2 is not None
        expected = 100 * (1 - v.area_cm2 / first.area_cm2)
        assert v.percent_reduction == pytest.approx(expected, abs=0.06)
        true = course.area_cm2(v.days_since_first_visit / 7)
        assert v.area_cm2 == pytest.approx(true, rel=0.25, abs=0.08)
    verdict = wound.verdict
    assert verdict is not None and verdict.visit == 5 and verdict.days_since_first_visit == 28
    reduction = wound.visits[4].percent_reduction
    assert reduction is not None and verdict.percent_reduction == reduction
    assert verdict.on_track == (reduction >= VERDICT_REDUCTION_PERCENT)
    assert ("on track" in verdict.text) == verdict.on_track
    # The pseudonym works without the key, and the raw wound label with it.
    same = wound_timeline(store, timeline.subject)
    assert same == timeline
    assert wound_timeline(store, "phantom-dfu001", "w1", pseudonym_key=KEY) == timeline
    assert wound_timeline(store, timeline.subject, wound.wound_id) == timeline


def test_verdict_needs_week_four_and_errors_are_clear(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        _ingest(store, _series_dir(tmp_path, subjects=1, visits=4))
        wound = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY).wounds[0]
        assert len(wound.visits) == 4 and wound.verdict is None  # last visit on day 21
        with pytest.raises(RecordNotFoundError, match="no captures of subject sub-"):
            wound_timeline(store, "phantom-dfu999", pseudonym_key=KEY)
        with pytest.raises(RecordNotFoundError, match="wound"):
            wound_timeline(store, "phantom-dfu000", "w2", pseudonym_key=KEY)
        with pytest.raises(ValueError, match="printable"):
            wound_timeline(store, "bad\x00id", pseudonym_key=KEY)


def test_stored_scores_preferred_refusals_fall_back_to_truth(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        _ingest(store, _series_dir(tmp_path, subjects=1, visits=3))
        ids = [
            v.capture_id
            for v in wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY).wounds[0].visits
        ]
        truth_first = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY).wounds[0].visits
        # visit 1: an older and a newer score; the newer one's area is used, with its probability
        store.put_prediction(
            ids[0],
            "mask-old",
            status="scored",
            score=_score(ids[0], 9.0, "mask-old").model_dump(mode="json"),
        )
        newer = _score(ids[0], 2.0, "ulcer-new").model_dump(mode="json") | {
            "healing_probability": 0.8
        }
        store.put_prediction(ids[0], "ulcer-new", status="scored", score=newer)
        # visit 2: a refusal only: the area comes from the ground truth
        refusal = {
            "kind": "refusal",
            "refused": True,
            "capture_id": ids[1],
            "model_id": "m",
            "reasons": ["glare"],
        }
        store.put_prediction(ids[1], "m", status="refused", score=refusal)
        # visit 3: a score in pixels (spacing unknown to the model): not an area in cm²
        pixels = _score(ids[2], 1.0, "px").model_dump(mode="json") | {"unit": "px"}
        store.put_prediction(ids[2], "px", status="scored", score=pixels)
        visits = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY).wounds[0].visits
    v1, v2, v3 = visits
    assert (v1.area_cm2, v1.area_source, v1.model_id) == (2.0, "prediction", "ulcer-new")
    assert v1.healing_probability == 0.8 and v1.prediction_status == "scored"
    assert (v2.area_source, v2.prediction_status) == ("ground truth", "refused")
    assert v2.area_cm2 == truth_first[1].area_cm2
    assert v3.area_source == "ground truth" and v3.area_cm2 == truth_first[2].area_cm2
    assert v2.area_cm2 is not None
    assert v2.percent_reduction == pytest.approx(100 * (1 - v2.area_cm2 / 2.0), abs=0.06)


def test_one_models_scores_with_model_id(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        _ingest(store, _series_dir(tmp_path, subjects=1, visits=2))
        truth = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY).wounds[0].visits
        first, second = (v.capture_id for v in truth)
        old = _score(first, 9.0, "mask-old").model_copy(update={"non_healing_area": 1.5})
        store.put_prediction(first, "mask-old", status="scored", score=old.model_dump(mode="json"))
        newer = _score(first, 2.0, "ulcer-new").model_dump(mode="json") | {
            "healing_probability": 0.8
        }
        store.put_prediction(first, "ulcer-new", status="scored", score=newer)
        store.put_prediction(
            second,
            "mask-old",
            status="scored",
            score=_score(second, 3.0, "mask-old").model_dump(mode="json"),
        )

        def visits(model_id: str | None) -> list[Visit]:
            timeline = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY, model_id=model_id)
            return timeline.wounds[0].visits

        newest, old_model, new_model, none = (
            visits(m) for m in (None, "mask-old", "ulcer-new", "no-such-model")
        )
    # None: the newest score of any model, per visit
    assert [(v.area_cm2, v.model_id) for v in newest] == [(2.0, "ulcer-new"), (3.0, "mask-old")]
    # one model: only its scores (area, non-healing area, change from its first visit)
    assert [(v.area_cm2, v.model_id) for v in old_model] == [(9.0, "mask-old"), (3.0, "mask-old")]
    assert old_model[0].non_healing_area_cm2 == 1.5 and old_model[0].healing_probability is None
    assert old_model[1].percent_reduction == pytest.approx(100 * (1 - 3.0 / 9.0), abs=0.06)
    # a visit the model did not score: no status, the ground-truth area
    assert (new_model[0].area_cm2, new_model[0].healing_probability) == (2.0, 0.8)
    assert new_model[1].prediction_status is None and new_model[1].area_source == "ground truth"
    assert new_model[1].area_cm2 == truth[1].area_cm2
    assert [v.area_source for v in none] == ["ground truth", "ground truth"]
    assert [v.prediction_status for v in none] == [None, None]


def test_burns_get_no_ulcer_verdict(tmp_path: Path) -> None:
    with LocalStore(tmp_path / "home") as store:
        store.init()
        _ingest(store, _series_dir(tmp_path, kind="burn", subjects=1, visits=6))
        wound = wound_timeline(store, "phantom-burn000", pseudonym_key=KEY).wounds[0]
    assert wound.wound_type == "burn" and wound.verdict is None
    areas = [v.area_cm2 for v in wound.visits]
    assert all(a is not None for a in areas)
    assert areas[-1] < areas[0]  # type: ignore[operator]  # re-epithelialised by day 21


def test_cli_timeline_table_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOUND_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WOUND_PSEUDONYM_KEY", KEY.decode())
    runner = CliRunner()
    with LocalStore(tmp_path / "home") as store:  # the CLI's embedded store
        store.init()
        _ingest(store, _series_dir(tmp_path, subjects=1, visits=6))
    result = runner.invoke(app, ["timeline", "phantom-dfu000"])
    assert result.exit_code == 0, result.output
    assert "6 visits" in result.output and "ground truth" in result.output
    assert "4-week verdict:" in result.output and "aid to the clinician" in result.output
    assert "phantom-dfu000" not in result.output  # only the pseudonym is shown
    result = runner.invoke(app, ["timeline", "phantom-dfu000", "--wound", "w1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    with LocalStore(tmp_path / "home") as store:
        expected = wound_timeline(store, "phantom-dfu000", pseudonym_key=KEY)
    assert Timeline.model_validate(data) == expected
    result = runner.invoke(app, ["timeline", "someone-else"])
    assert result.exit_code == 1 and "no captures of subject sub-" in result.output
    assert "someone-else" not in result.output
