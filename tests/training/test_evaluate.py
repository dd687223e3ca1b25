"""End-to-end evaluation: oracle network (exact values), random UNet, baseline, tertiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
import torch
from torch import nn

from training.evaluate import EvaluationReport, evaluate_model, resolve_truth
from wound.capture import Capture, CaptureMetadata, GroundTruth
from wound.errors import BandMismatchError
from wound.networks import ModelInfo, NetworkSpec, build_network

WAVELENGTHS8 = (420.0, 525.0, 581.0, 620.0, 660.0, 726.0, 820.0, 855.0)
#: Mean reflectance spectrum of each depth class (background, healthy, ..., full thickness).
SPECTRA = np.array(
    [
        [0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05],
        [0.30, 0.35, 0.30, 0.50, 0.55, 0.60, 0.62, 0.63],
        [0.35, 0.40, 0.32, 0.55, 0.58, 0.62, 0.64, 0.64],
        [0.25, 0.28, 0.20, 0.45, 0.52, 0.58, 0.60, 0.61],
        [0.20, 0.22, 0.18, 0.35, 0.40, 0.45, 0.48, 0.50],
        [0.40, 0.42, 0.40, 0.42, 0.43, 0.44, 0.45, 0.45],
    ],
    dtype=np.float32,
)


def _depth_map(rng: np.random.Generator, size: int) -> np.ndarray:
    depth = np.ones((size, size), np.uint8)
    depth[:, : size // 8] = 0  # background strip
    yy, xx = np.mgrid[:size, :size]
    cy, cx = rng.integers(size // 3, 2 * size // 3, 2)
    r = np.hypot(yy - cy, xx - cx)
    for cls, radius in ((2, 0.40), (3, 0.30), (4, 0.20), (5, 0.10)):
        depth[(r < radius * size) & (depth > 0)] = cls
    return depth


def _meta(i: int, fitz: int | None) -> CaptureMetadata:
    return CaptureMetadata(
        capture_id=f"cap-{i:03d}",
        subject=f"sub-{i:020x}",
        captured_at=datetime(2026, 1, 1, tzinfo=UTC),
        fitzpatrick=fitz,
    )


def spectral_capture(i: int, *, size: int = 32, fitz: int | None = None) -> Capture:
    """Cube from class spectra + noise; healing = classes 1-3 (heal within 21 days)."""
    rng = np.random.default_rng(i)
    depth = _depth_map(rng, size)
    cube = SPECTRA[depth].transpose(2, 0, 1) + rng.normal(0, 0.02, (8, size, size))
    healing = np.isin(depth, (1, 2, 3)).astype(np.uint8)
    return Capture(
        cube=cube.astype(np.float32),
        wavelengths=WAVELENGTHS8,
        metadata=_meta(i, fitz),
        truth=GroundTruth(depth=depth, healing=healing),
    ).validate()


def oracle_capture(i: int, *, size: int = 32, fitz: int | None = None) -> Capture:
    """7 'bands' (0/1 reflectance) that, normalised by :data:`ORACLE_NORM`, ARE the logits of
    the truth (one-hot depth x 8, healing +-4): an identity network predicts perfectly."""
    rng = np.random.default_rng(i)
    depth = _depth_map(rng, size)
    healing = np.isin(depth, (1, 2, 3)).astype(np.uint8)
    cube = np.zeros((7, size, size), np.float32)
    cube[:6] = np.eye(6, dtype=np.float32)[depth].transpose(2, 0, 1)
    cube[6] = healing
    return Capture(
        cube=cube,
        wavelengths=tuple(500.0 + 10 * k for k in range(7)),
        metadata=_meta(i, fitz),
        truth=GroundTruth(depth=depth, healing=healing),
    ).validate()


#: Band mean / std that turn an oracle cube into logits: (x - mean) / std.
ORACLE_NORM = {"band_mean": (0.0,) * 6 + (0.5,), "band_std": (0.125,) * 7}


def _info(spec: NetworkSpec, wavelengths: tuple[float, ...], **kw: object) -> ModelInfo:
    n = len(wavelengths)
    fields: dict[str, object] = {"band_mean": (0.0,) * n, "band_std": (1.0,) * n, **kw}
    return ModelInfo(
        task="burn-depth",
        network=spec,
        wavelengths_nm=wavelengths,
        patch_size=(32, 32),
        **fields,  # type: ignore[arg-type]
    )


FITZ = [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def oracle_report() -> EvaluationReport:
    val = [oracle_capture(i, fitz=FITZ[i % 6]) for i in range(6)]
    train = [oracle_capture(100 + i) for i in range(4)]
    spec = NetworkSpec(in_channels=7, out_channels=7)
    info = _info(spec, val[0].wavelengths, **ORACLE_NORM)
    return evaluate_model(nn.Identity(), info, val, train, model_id="oracle")


def test_oracle_network_scores_perfectly(oracle_report: EvaluationReport) -> None:
    m = oracle_report.metrics["model"]
    assert m["depth"]["pixel_accuracy"] == 1.0
    assert all(
        v["dice_pooled"] == 1.0 for v in m["depth"]["per_class"].values() if v["support_pixels"]
    )
    assert m["healing"]["auc"] == 1.0
    assert m["healing"]["sensitivity"] == 1.0 and m["healing"]["specificity"] == 1.0
    assert m["wound"]["pooled"]["dice"] == 1.0
    assert m["wound"]["per_image_mean"]["dice"] == 1.0
    cm = np.array(m["depth"]["confusion_matrix"])
    assert (cm == np.diag(np.diag(cm))).all() and cm.sum() == 6 * 32 * 32
    head = oracle_report.headline
    assert head["healing_auc"] == 1.0 and head["accuracy"] == 1.0
    assert head["wound_dice_mean"] == 1.0


def test_oracle_breakdown_by_tertile(oracle_report: EvaluationReport) -> None:
    groups = oracle_report.metrics["model"]["by_fitzpatrick"]
    assert list(groups) == ["I-II", "III-IV", "V-VI"]
    assert [g["captures"] for g in groups.values()] == [2, 2, 2]
    assert all(g["healing"]["auc"] == 1.0 for g in groups.values())
    assert "by_fitzpatrick" in oracle_report.metrics["baseline"]


def test_report_files(oracle_report: EvaluationReport) -> None:
    files = oracle_report.files
    expected = {"report.json", "report.md", "confusion_matrix.png", "reliability.png", "roc.png"}
    assert expected <= set(files)
    for name, data in files.items():
        if name.endswith(".png"):
            assert data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert json.loads(files["report.json"]) == json.loads(json.dumps(oracle_report.metrics))
    md = files["report.md"].decode()
    assert "aid to the clinician" in md
    assert "pooled over all pixels" in md and "mean of per-image scores" in md
    assert "Fitzpatrick" in md and "V-VI" in md


@pytest.fixture(scope="module")
def spectral_report() -> EvaluationReport:
    torch.manual_seed(0)
    spec = NetworkSpec(in_channels=8, out_channels=7, channels=(4, 8), strides=(2,))
    model = build_network(spec)
    val = [spectral_capture(i, fitz=FITZ[i % 6]) for i in range(6)]
    train = [spectral_capture(50 + i) for i in range(6)]
    info = _info(spec, WAVELENGTHS8)
    return evaluate_model(model, info, val, train, threshold=0.4)


def test_spectral_baseline_measured_on_same_captures(spectral_report: EvaluationReport) -> None:
    metrics = spectral_report.metrics
    base = metrics["baseline"]
    assert base["captures"] == metrics["model"]["captures"] == 6
    # the class spectra are separable: LDA on band values does far better than chance
    assert base["depth"]["pixel_accuracy"] > 0.9
    assert base["healing"]["auc"] > 0.9
    head = spectral_report.headline
    assert head["baseline_accuracy"] == base["depth"]["pixel_accuracy"]
    assert head["baseline_healing_auc"] == base["healing"]["auc"]
    assert metrics["model"]["healing"]["threshold"] == 0.4
    assert "baseline_confusion_matrix.png" in spectral_report.files


def test_random_network_is_worse_than_baseline(spectral_report: EvaluationReport) -> None:
    head = spectral_report.headline
    assert head["accuracy"] < head["baseline_accuracy"]
    assert 0.0 <= head["healing_auc"] <= 1.0


def test_wrong_bands_name_the_capture() -> None:
    spec = NetworkSpec(in_channels=8, out_channels=7, channels=(4, 8), strides=(2,))
    info = _info(spec, tuple(w + 10 for w in WAVELENGTHS8))  # beyond the 5 nm tolerance
    cap = spectral_capture(1)
    with pytest.raises(BandMismatchError, match="cap-001"):
        evaluate_model(build_network(spec), info, [cap], [])


def test_no_labels_is_a_clear_error() -> None:
    spec = NetworkSpec(in_channels=7, out_channels=7)
    cap = oracle_capture(3)
    info = _info(spec, cap.wavelengths, **ORACLE_NORM)
    with pytest.raises(ValueError, match="none of the 1 validation captures has labels"):
        evaluate_model(nn.Identity(), info, [cap], [], labels={})


def test_labels_from_mapping_and_callable() -> None:
    cap = oracle_capture(4)
    zero = {"depth": np.zeros((32, 32), np.uint8)}
    t = resolve_truth(cap, {"cap-004": zero})
    assert t is not None and t.depth is not None and int(t.depth.max()) == 0
    assert resolve_truth(cap, lambda c: None) is None
    assert resolve_truth(cap, "truth") is cap.truth
    # labels that disagree with the truth lower the score: the labels are really used
    spec = NetworkSpec(in_channels=7, out_channels=7)
    info = _info(spec, cap.wavelengths, **ORACLE_NORM)
    rep = evaluate_model(nn.Identity(), info, [cap], [], labels={"cap-004": zero})
    assert rep.metrics["model"]["depth"]["pixel_accuracy"] < 0.5
    assert rep.metrics["baseline"] is None and "baseline_skipped" in rep.metrics


def test_wound_mask_task() -> None:
    caps = []
    for i in range(4):
        rng = np.random.default_rng(i)
        mask = (_depth_map(rng, 32) >= 2).astype(np.uint8)
        cube = np.stack([np.where(mask, -3.0, 3.0), np.where(mask, 3.0, -3.0)]).astype(np.float32)
        cube += rng.normal(0, 0.1, cube.shape).astype(np.float32)
        caps.append(
            Capture(
                cube=cube,
                wavelengths=(450.0, 550.0),
                metadata=_meta(i, None),
                truth=GroundTruth(wound_mask=mask),
            )
        )
    spec = NetworkSpec(in_channels=2, out_channels=2)
    info = ModelInfo(
        task="wound-mask",
        network=spec,
        wavelengths_nm=(450.0, 550.0),
        band_mean=(0.0, 0.0),
        band_std=(1.0, 1.0),
        patch_size=(32, 32),
    )
    rep = evaluate_model(nn.Identity(), info, caps[:2], caps[2:])
    w = rep.metrics["model"]["wound"]
    assert w["pooled"]["dice"] == 1.0 and w["per_image_mean"]["precision"] == 1.0
    assert rep.metrics["baseline"]["wound"]["pooled"]["dice"] > 0.95
    assert "healing" not in rep.metrics["model"] and rep.headline["healing_auc"] is None
    assert "by_fitzpatrick" not in rep.metrics["model"]


@pytest.mark.gpu  # deselected by `make test`; `make test-gpu` runs it on a CUDA machine
def test_cuda_evaluation_matches_cpu() -> None:
    torch.manual_seed(0)
    spec = NetworkSpec(in_channels=8, out_channels=7, channels=(4, 8), strides=(2,))
    model = build_network(spec)
    val = [spectral_capture(i) for i in range(2)]
    info = _info(spec, WAVELENGTHS8)
    cpu = evaluate_model(model, info, val, [], device="cpu").headline
    gpu = evaluate_model(model, info, val, [], device="cuda").headline
    assert gpu["healing_auc"] == pytest.approx(cpu["healing_auc"], abs=1e-3)
    assert gpu["accuracy"] == pytest.approx(cpu["accuracy"], abs=1e-3)
