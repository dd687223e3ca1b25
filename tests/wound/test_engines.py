"""Inference engines: torch and onnxruntime give the same predictions and scores (parity per
task), the ONNX graph is exported once per registered model and kept in the registry, and the
engine is chosen by argument, setting (``WOUND_ENGINE``) or ``auto``.

Parity tolerances, from the float32 rounding of the forward pass up:

- logits: the export is checked to ``EXPORT_TOLERANCE`` = 1e-3 (ONNX Runtime's fused kernels sum
  in another order: ~1e-5 on a patch, ~3e-4 on a 1024 x 1280 capture);
- probabilities: a softmax moves by at most half the largest logit change (row sums of its
  Jacobian are ``2 p_i (1 - p_i) <= 1/2``), a sigmoid by a quarter; averaging over flips and
  scales does not add to it. So ``|dp| <= 5e-4`` (models are uncalibrated here: temperature 1);
- class map: a pixel may change class only where its two most probable classes are within
  ``2 * 5e-4`` of each other (a near-tie) under either engine; every changed pixel is checked;
- areas: the score's wound and per-class pixel counts then differ by at most the number of
  changed pixels (non-healing / indeterminate also where the healing probability / uncertainty
  is within tolerance of its threshold), and we require each to stay under 0.1% of the image.
  Measured (these random-weight networks, 2 captures of 512 x 640): max |dp| 5e-6, at most 1
  changed pixel of 327,680, though 0.2-0.5% of pixels are near-ties.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from reliability.model import register_untrained
from wound.capture import Capture
from wound.engines import (
    ONNX_FILE,
    EngineError,
    OnnxRuntimeEngine,
    TorchEngine,
    export_onnx,
    resolve_engine,
)
from wound.networks import (
    InferenceSettings,
    ModelInfo,
    NetworkSpec,
    build_network,
)
from wound.phantom import PhantomConfig, synth_capture
from wound.predict import Prediction, Predictor
from wound.scoring import score_prediction
from wound.store import LocalStore
from wound.tasks import get_task

CONFIG = PhantomConfig(height=96, width=128)
WAVELENGTHS = CONFIG.wavelengths_nm
ROOT = Path(__file__).resolve().parents[2]
PROB_TOL = 5e-4  # = EXPORT_TOLERANCE / 2 (module docstring)
AREA_SHARE_TOL = 1e-3


def _info(task: str, inference: dict[str, object] | None = None) -> ModelInfo:
    """The network the task's config trains (configs/<task>.yaml), 8 bands."""
    network = yaml.safe_load((ROOT / "configs" / f"{task}.yaml").read_text())["network"]
    spec = NetworkSpec(
        in_channels=len(WAVELENGTHS), out_channels=get_task(task).out_channels, **network
    )
    return ModelInfo(
        task=task,
        network=spec,
        wavelengths_nm=WAVELENGTHS,
        band_mean=(0.3,) * len(WAVELENGTHS),
        band_std=(0.15,) * len(WAVELENGTHS),
        patch_size=(64, 64),
        inference=InferenceSettings.model_validate(inference or {}),
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    s = LocalStore(tmp_path_factory.mktemp("engines"))
    s.init()
    register_untrained(s, "depth", _info("burn-depth"), seed=1)
    register_untrained(s, "depth-tta", _info("burn-depth", {"tta": True, "roi": "patch"}), seed=1)
    register_untrained(s, "mask", _info("wound-mask"), seed=2)
    return s


@pytest.fixture(scope="module")
def captures() -> list[Capture]:
    return [synth_capture(seed=9, subject_index=i, capture_index=0, config=CONFIG) for i in (0, 1)]


def _near_tie(pred: Prediction) -> np.ndarray:
    top2 = np.sort(pred.probabilities, axis=0)[-2:]
    return np.asarray((top2[1] - top2[0]) <= 2 * PROB_TOL)


def _check_parity(a: Prediction, b: Prediction, capture: Capture) -> int:
    """Assert the documented bounds between two engines' predictions; changed pixels."""
    assert np.abs(a.probabilities - b.probabilities).max() <= PROB_TOL
    changed = a.labels != b.labels
    assert np.all(_near_tie(a)[changed] | _near_tie(b)[changed])
    same = ~changed
    if a.healing_prob is not None:
        assert b.healing_prob is not None
        assert np.abs(a.healing_prob - b.healing_prob)[same].max() <= PROB_TOL / 2
    # uncertainty is a function of the probabilities (a max of them, a product, an entropy);
    # its change is bounded by a small multiple of theirs away from class changes
    assert np.abs(a.uncertainty - b.uncertainty)[same].max() <= 10 * PROB_TOL
    n = int(changed.sum())
    sa, sb = (score_prediction(p, capture_id="c", spacing_mm=capture.spacing_mm) for p in (a, b))
    # a thresholded map may also change where its input is within tolerance of the threshold
    heal_edge = unc_edge = 0
    if a.healing_prob is not None:
        heal_edge = int((np.abs(a.healing_prob - sa.healing_threshold) <= PROB_TOL).sum())
    unc_edge = int((np.abs(a.uncertainty - sa.uncertainty_threshold) <= 10 * PROB_TOL).sum())
    assert abs(sa.wound_pixels - sb.wound_pixels) <= n
    for ca, cb in zip(sa.classes, sb.classes, strict=True):
        assert ca.class_id == cb.class_id and abs(ca.pixels - cb.pixels) <= n
    assert abs((sa.non_healing_pixels or 0) - (sb.non_healing_pixels or 0)) <= n + heal_edge
    assert abs(sa.indeterminate_pixels - sb.indeterminate_pixels) <= n + unc_edge
    size = changed.size
    for x, y in [
        (sa.wound_pixels, sb.wound_pixels),
        (sa.non_healing_pixels or 0, sb.non_healing_pixels or 0),
        (sa.indeterminate_pixels, sb.indeterminate_pixels),
    ]:
        assert abs(x - y) <= AREA_SHARE_TOL * size
    return n


@pytest.mark.parametrize("model_id", ["depth", "depth-tta", "mask"])
def test_parity_torch_onnxruntime(
    store: LocalStore, captures: list[Capture], model_id: str
) -> None:
    """Same sliding window / TTA / post-processing / score; only the forward pass differs."""
    torch_p = Predictor.from_store(store, model_id, device="cpu", engine="torch")
    ort_p = Predictor.from_store(store, model_id, device="cpu", engine="onnxruntime")
    assert isinstance(torch_p.engine, TorchEngine)
    assert isinstance(ort_p.engine, OnnxRuntimeEngine)
    want, got = torch_p.predict_many(captures), ort_p.predict_many(captures)
    for a, b, capture in zip(want, got, captures, strict=True):
        assert a.task == b.task == torch_p.task
        _check_parity(a, b, capture)


def test_engine_recorded_in_the_score_provenance(
    store: LocalStore, captures: list[Capture], tmp_path: Path
) -> None:
    from wound.io import write_capture
    from wound.pipeline import score_file

    predictor = Predictor.from_store(store, "depth", device="cpu", engine="onnxruntime")
    path = write_capture(captures[0], tmp_path / "c.tif")
    outcome = score_file(store, predictor, path, pseudonym_key=b"k")
    assert outcome.status == "scored", outcome.message
    assert outcome.score is not None and outcome.score.provenance["engine"] == "onnxruntime"
    # the verdict is written beside the forward pass (score_file's commit step), still stored
    quality = store.get_record(outcome.capture_id).quality
    assert quality is not None and quality["ok"] is True
    first, _ = store.get_prediction(outcome.capture_id, "depth", with_arrays=False)
    again = score_file(store, predictor, path, pseudonym_key=b"k")  # the same file again
    assert again.status == "skipped" and again.capture_id == outcome.capture_id
    assert store.get_prediction(outcome.capture_id, "depth", with_arrays=False)[0] == first


def test_score_file_stores_a_refusal_and_its_verdict(
    store: LocalStore, captures: list[Capture], tmp_path: Path
) -> None:
    import dataclasses

    from wound.io import write_capture
    from wound.pipeline import score_file

    good = captures[1]
    bad = dataclasses.replace(  # over-exposed, under its own device id
        good,
        cube=np.clip(good.cube * 3, 0, 1),
        metadata=good.metadata.model_copy(update={"capture_id": "over-exposed-1"}),
    )
    path = write_capture(bad, tmp_path / "over-exposed.tif")
    predictor = Predictor.from_store(store, "depth", device="cpu", engine="onnxruntime")
    outcome = score_file(store, predictor, path, pseudonym_key=b"k")
    assert outcome.status == "refused" and "saturated" in outcome.message
    quality = store.get_record(outcome.capture_id).quality
    assert quality is not None and quality["reasons"][0]["code"] == "saturated"
    record, arrays = store.get_prediction(outcome.capture_id, "depth")
    assert record.status == "refused" and arrays == {}


def _ort_engine(threads: int) -> OnnxRuntimeEngine:
    """A real onnxruntime engine (an identity graph) with ``threads`` intra-op threads."""
    from onnx import TensorProto, helper

    io_shape = ["n", "c", "h", "w"]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["bands"], ["logits"])],
        "identity",
        [helper.make_tensor_value_info("bands", TensorProto.FLOAT, io_shape)],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, io_shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return OnnxRuntimeEngine(model.SerializeToString(), threads=threads)


@pytest.mark.parametrize("shape", [(1, 7, 64, 1280), (2, 7, 37, 51), (1, 7, 2, 9)])
@pytest.mark.parametrize("wound_threshold", [None, 0.4])
def test_row_blocks_equal_the_whole(
    shape: tuple[int, int, int, int], wound_threshold: float | None
) -> None:
    """The predictor's per-pixel work in row blocks beside onnxruntime (``rows_beside``, 3
    threads here) gives what it gives on the whole tensors, in-place changes included: equal
    up to float32 rounding (1e-6; a block's last elements can take torch's scalar path instead
    of its vectorised one, a 1-ulp difference, as torch's own thread split does), exactly
    equal when every block's size is a multiple of the vector width (1280 columns)."""

    def same(a: torch.Tensor, b: torch.Tensor) -> None:
        assert a.dtype == b.dtype and a.shape == b.shape
        if shape[-1] % 64 == 0 or not a.dtype.is_floating_point:
            assert torch.equal(a, b)
        else:
            assert float((a - b).abs().max()) <= 1e-6

    from wound.calibration import UNCALIBRATED
    from wound.engines import rows_beside
    from wound.predict import _activate, _labels_uncertainty

    spec = get_task("burn-depth")
    engine = _ort_engine(threads=3)
    logits = torch.randn(shape, generator=torch.Generator().manual_seed(sum(shape))) * 4
    cal = UNCALIBRATED.model_copy(update={"class_temperature": 1.3})
    with torch.inference_mode():
        want_p, want_h = _activate(logits, spec, cal)
        got_p, got_h = rows_beside(engine, _activate)(logits, spec, cal)
        assert want_h is not None and got_h is not None
        same(want_p, got_p)
        same(want_h, got_h)
        args = (0.5, spec.wound_classes, wound_threshold)
        want = _labels_uncertainty(want_p, want_h, *args)
        got = rows_beside(engine, _labels_uncertainty)(got_p, got_h, *args)
    for a, b in zip(want, got, strict=True):
        same(a, b)  # labels: exactly (no pixel here is within rounding of a tie)
    same(want_h, got_h)  # healing zeroed outside skin in place, block by block
    assert rows_beside(TorchEngine(torch.nn.Identity(), amp=False, channels_last=False), sum) is sum


def test_onnx_exported_once_and_kept_in_the_registry(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch, captures: list[Capture]
) -> None:
    register_untrained(store, "fresh", _info("burn-depth"), seed=3)
    assert ONNX_FILE not in store.get_model("fresh").files
    first = Predictor.from_store(store, "fresh", device="cpu", engine="onnxruntime")
    graph = store.get_model_file("fresh", ONNX_FILE)
    assert store.get_model("fresh").files[ONNX_FILE].key.startswith("models/fresh/")

    def no_export(*_: object) -> bytes:
        raise AssertionError("exported again")

    monkeypatch.setattr("wound.engines.export_onnx", no_export)
    again = Predictor.from_store(store, "fresh", device="cpu", engine="onnxruntime")
    assert store.get_model_file("fresh", ONNX_FILE) == graph
    a, b = first.predict(captures[0]), again.predict(captures[0])
    np.testing.assert_array_equal(a.probabilities, b.probabilities)
    assert store.check()["orphans"] == []


def test_setting_and_auto_choose_the_engine(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOUND_ENGINE", "torch")
    assert isinstance(Predictor.from_store(store, "depth", device="cpu").engine, TorchEngine)
    monkeypatch.setenv("WOUND_ENGINE", "auto")
    auto = Predictor.from_store(store, "depth", device="cpu")
    assert isinstance(auto.engine, OnnxRuntimeEngine)  # the CPU default
    assert isinstance(Predictor.from_store(store, "depth", engine="torch").engine, TorchEngine)
    assert resolve_engine("auto", "cuda") == "torch"  # the GPU path: AMP, channels-last
    assert resolve_engine("auto", "cpu") == "onnxruntime"
    with pytest.raises(EngineError, match="runs on the CPU"):
        resolve_engine("onnxruntime", "cuda")
    with pytest.raises(EngineError, match="unknown engine"):
        resolve_engine("tensorrt", "cpu")
    # a live network (training's validation) runs in torch unless asked otherwise
    info = _info("burn-depth")
    assert isinstance(Predictor(build_network(info.network), info).engine, TorchEngine)


def test_auto_falls_back_to_torch_when_the_export_fails(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    register_untrained(store, "no-export", _info("burn-depth"), seed=4)

    def broken(*_: object) -> bytes:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr("wound.engines.export_onnx", broken)
    with caplog.at_level(logging.WARNING, logger="wound.engines"):
        auto = Predictor.from_store(store, "no-export", device="cpu", engine="auto")
    assert isinstance(auto.engine, TorchEngine)
    assert "unsupported operator" in caplog.text and "using torch" in caplog.text
    with pytest.raises(EngineError, match="model no-export: no ONNX export"):
        Predictor.from_store(store, "no-export", device="cpu", engine="onnxruntime")
    assert ONNX_FILE not in store.get_model("no-export").files  # nothing partial


def test_export_that_disagrees_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    info = _info("wound-mask")
    network = build_network(info.network)
    graph = export_onnx(network, info)
    with torch.no_grad():
        for p in network.parameters():
            p.add_(0.1)  # the torch network no longer matches the graph it exported
    monkeypatch.setattr("wound.engines.torch.onnx.export", lambda *a, **k: a[2].write(graph))
    with pytest.raises(EngineError, match="differs from torch"):
        export_onnx(network, info)


def test_export_runs_prelu_as_leaky_relu(monkeypatch: pytest.MonkeyPatch) -> None:
    """MONAI's single-slope PReLU is exported as LeakyRelu of that slope (onnxruntime's
    vectorised kernel): the same function, bit for bit, as the PRelu graph; the network
    itself is left as it was."""
    import onnx

    info = _info("burn-depth")
    torch.manual_seed(5)
    network = build_network(info.network).eval()
    slopes = [m for m in network.modules() if isinstance(m, torch.nn.PReLU)]
    assert slopes  # the default networks use it
    with torch.no_grad():
        for i, m in enumerate(slopes):
            m.weight.fill_(0.05 + 0.1 * i)  # distinct slopes, each where its layer is
    graph = export_onnx(network, info)
    ops = {node.op_type for node in onnx.load_from_string(graph).graph.node}
    assert "LeakyRelu" in ops and "PRelu" not in ops
    assert [m for m in network.modules() if isinstance(m, torch.nn.PReLU)] == slopes
    monkeypatch.setattr("wound.engines._onnx_friendly", lambda net: net)
    prelu_graph = export_onnx(network, info)
    assert "PRelu" in {node.op_type for node in onnx.load_from_string(prelu_graph).graph.node}
    x = torch.randn(2, 8, 40, 56, generator=torch.Generator().manual_seed(0)) * 3
    got = OnnxRuntimeEngine(graph, threads=1)(x)
    assert torch.equal(got, OnnxRuntimeEngine(prelu_graph, threads=1)(x))


def test_onnxruntime_refuses_a_bad_graph() -> None:
    with pytest.raises(EngineError, match="cannot load"):
        OnnxRuntimeEngine(b"not an onnx graph")


def test_cli_engine_option(
    store: LocalStore, captures: list[Capture], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wound predict --engine`` picks the engine (recorded in the score); a bad name or the
    CPU-only engine on a GPU device is a one-line error."""
    from typer.testing import CliRunner

    from wound.cli.main import app
    from wound.io import write_capture

    monkeypatch.setenv("WOUND_HOME", str(store.home))
    monkeypatch.setenv("COLUMNS", "200")
    path = write_capture(captures[1], tmp_path / "scan.tif")
    runner = CliRunner()
    result = runner.invoke(app, ["predict", str(path), "--model", "depth", "--engine", "torch"])
    assert result.exit_code in (0, 2), result.output  # 2: refused by the gate (still stored)
    record, _ = store.get_prediction(captures[1].identity(), "depth", with_arrays=False)
    assert record.score["provenance"]["engine"] == "torch"
    bad = runner.invoke(app, ["predict", str(path), "--engine", "tensorrt"])
    assert bad.exit_code == 1 and "--engine must be one of auto, torch, onnxruntime" in bad.output
    gpu = runner.invoke(
        app,
        ["predict", str(path), "--model", "depth", "--engine", "onnxruntime", "--device", "cuda"],
    )
    assert gpu.exit_code == 1 and "runs on the CPU" in gpu.output


@pytest.mark.parametrize("wound_threshold", [0.3, 0.6])
def test_calibrated_class_map_is_the_argmax_of_its_side(wound_threshold: float) -> None:
    """With a calibrated wound call the class map is the first most probable class of the
    called side, as ``argmax`` over that side's channels gives it (ties included), by the
    per-class passes that replace torch's slow ``argmax`` over the class dimension."""
    from wound.predict import _labels_uncertainty

    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(2, 6, 31, 47, generator=g) * 2, dim=1)
    probs = (probs * 8).round() / 8  # coarse values: many exact ties between classes
    wound = (2, 3, 4, 5)
    labels, _ = _labels_uncertainty(probs, None, 0.5, wound, wound_threshold)
    called = probs[:, list(wound)].sum(dim=1) > wound_threshold
    inside = torch.tensor([2, 3, 4, 5])[probs[:, 2:6].argmax(dim=1)]
    outside = torch.tensor([0, 1])[probs[:, 0:2].argmax(dim=1)]
    want = torch.where(called, inside, outside).to(torch.uint8)
    assert labels.dtype == torch.uint8 and torch.equal(labels, want)
    ties = (probs[:, 2:6] == probs[:, 2:6].max(dim=1, keepdim=True).values).sum(dim=1) > 1
    assert bool((ties & called).any())  # the tie rule was exercised
