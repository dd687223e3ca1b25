"""Inference engines: what runs the network's forward pass inside :class:`~wound.predict.Predictor`.

The predictor owns everything around the forward (band normalisation, MONAI's sliding-window
inferer, flips and scales, activation, post-processing, scores); an engine maps a normalised
``N x C x H x W`` float32 window batch to ``N x out_channels x H x W`` logits, nothing more. So
predictions differ between engines only by the forward pass's float32 rounding (bounded by the
parity tests, ``tests/wound/test_engines.py``).

- ``torch``: the network in eager mode; on CUDA with autocast (AMP, float16) and channels-last.
  The GPU path, and the one used during training (the weights change every epoch).
- ``onnxruntime``: the network exported once to ONNX (opset 17, dynamic batch/height/width) and
  run by ONNX Runtime on the CPU: faster than eager torch on 2 cores for the default UNet
  (forward at 512 x 512 and 1024 x 1280: 1.6-1.9x on a quiet machine, 3.6-4.1x on a busy
  one; BENCHMARKS.md), and the path for edge devices (one ``.onnx`` file, no torch at run
  time). MONAI's PReLU is exported as the equivalent LeakyRelu
  (:func:`_onnx_friendly`).
- ``auto`` (default, ``WOUND_ENGINE``): ``onnxruntime`` on the CPU, ``torch`` on CUDA; falls back
  to ``torch`` (logged) when the network does not export.

For a registered model the ONNX graph is exported on first use, checked against torch, and kept
in the registry beside the weights (``CaptureStore.add_model_file``, file :data:`ONNX_FILE`):
every later predictor, process or machine loads it instead of exporting again.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from copy import deepcopy
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import torch
from torch import nn

from wound.errors import RecordNotFoundError, WoundError
from wound.networks import ModelInfo, size_divisor
from wound.store.base import CaptureStore

__all__ = [
    "ENGINES",
    "ONNX_FILE",
    "Engine",
    "EngineChoice",
    "EngineError",
    "OnnxRuntimeEngine",
    "TorchEngine",
    "beside_engine",
    "build_engine",
    "cached_onnx",
    "export_onnx",
    "resolve_engine",
    "rows_beside",
    "store_engine",
    "torch_threads_beside",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

EngineChoice = Literal["auto", "torch", "onnxruntime"]
ENGINES: tuple[str, ...] = ("auto", "torch", "onnxruntime")
#: The registry file of the cached export. Opset and export recipe in the name: a new one is a
#: new file, so graphs cached by an older recipe are exported again (v2: PReLU as LeakyRelu).
ONNX_OPSET = 17
ONNX_RECIPE = 2
ONNX_FILE = f"model.opset{ONNX_OPSET}.v{ONNX_RECIPE}.onnx"
#: Largest |logit| difference accepted between the export and torch on the check input: float32
#: reassociation in ONNX Runtime's fused kernels gives ~1e-5 on a patch (3e-4 on 1024 x 1280).
EXPORT_TOLERANCE = 1e-3


class EngineError(WoundError):
    """An engine cannot run here, or an export does not reproduce the network."""


class Engine(Protocol):
    """Logits of a normalised window batch (``N x C x H x W`` float32 on the predictor's device)."""

    name: str

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


class TorchEngine:
    """The network in eager torch (the caller already moved it to its device / memory format)."""

    name = "torch"

    def __init__(self, network: nn.Module, *, amp: bool, channels_last: bool) -> None:
        self.network, self.amp, self.channels_last = network, amp, channels_last

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.amp:
            with torch.autocast(device_type=x.device.type, dtype=torch.float16):
                return self.network(x).float()
        out: torch.Tensor = self.network(x)
        return out


class OnnxRuntimeEngine:
    """An ONNX graph (input ``bands``, output ``logits``) on ONNX Runtime's CPU provider.

    ``threads``: intra-op threads (default: torch's, so both engines use the same cores).
    Spinning of idle worker threads is off: on a small CPU it would take cycles from the work
    beside the forward (the ingest thread of :func:`wound.pipeline.score_file`).
    """

    name = "onnxruntime"

    def __init__(self, model: bytes, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        self.threads = threads or torch.get_num_threads()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own, untyped errors
            raise EngineError(f"onnxruntime cannot load the ONNX graph: {exc}") from None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            raise EngineError(f"the onnxruntime engine runs on the CPU, got a {x.device} tensor")
        batch = x.detach().to(torch.float32).contiguous().numpy()  # a view: no copy
        (logits,) = self.session.run(["logits"], {"bands": batch})
        return torch.from_numpy(logits)


@contextlib.contextmanager
def torch_threads_beside(engine: Engine) -> Iterator[None]:
    """Torch's intra-op threads while the predictor works around ``engine``'s forward: one
    beside onnxruntime (its own thread pool runs the forward), else unchanged. Alternating two
    thread pools costs a wake-up per torch operation: on 2 CPU cores the predictor's work around
    a 1024 x 1280 onnxruntime forward took 383 ms with torch's 2 threads and 85 ms with one
    (same machine, same minute; BENCHMARKS.md). Elementwise and per-pixel ops: same results."""
    if not isinstance(engine, OnnxRuntimeEngine):
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def beside_engine(method: Callable[..., T]) -> Callable[..., T]:
    """Run a predictor method under :func:`torch_threads_beside` its engine."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> T:
        with torch_threads_beside(self.engine):
            return method(self, *args, **kwargs)

    return run


def rows_beside(engine: Engine, fn: Callable[..., T]) -> Callable[..., T]:
    """``fn`` run on row blocks of its tensor arguments in parallel, one block per thread of an
    onnxruntime engine (the cores its forward used); for torch, ``fn`` itself (torch's own
    intra-op threads run it).

    For the predictor's per-pixel work after an onnxruntime forward (activation, class map,
    uncertainty), where torch runs single-threaded (:func:`torch_threads_beside`): the blocks
    run in threads (torch releases the GIL), so both cores work instead of one. ``fn`` must act
    on each pixel independently (its tensor arguments all have the image rows at dimension -2)
    and return a tensor, None or a tuple of them, rows at -2; the blocks' results are joined
    along the rows. Each pixel's arithmetic is the same op for op, so the result equals ``fn``
    on the whole tensors up to float32 rounding: a block's last few elements may take torch's
    scalar path instead of its vectorised one (1 ulp, as torch's own thread split does; exact
    when each block's size is a multiple of the vector width, e.g. 1280 columns); pinned by
    ``tests/wound/test_engines.py``. In-place changes to an argument reach it through the
    block views, as they would unsplit.
    """
    parts = engine.threads if isinstance(engine, OnnxRuntimeEngine) else 1
    if parts <= 1:
        return fn

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        rows = next(a.shape[-2] for a in args if isinstance(a, torch.Tensor))
        n = min(parts, rows)
        if n <= 1:
            return fn(*args, **kwargs)
        cuts = [rows * i // n for i in range(n + 1)]
        modes = _ThreadModes()  # inference and grad modes are per thread: the caller's

        def block(i: int) -> Any:
            sl = (..., slice(cuts[i], cuts[i + 1]), slice(None))
            with modes():
                return fn(*(a[sl] if isinstance(a, torch.Tensor) else a for a in args), **kwargs)

        pool = _row_pool(n - 1)
        others = [pool.submit(block, i) for i in range(1, n)]
        blocks = [block(0)] + [f.result() for f in others]
        return _join_rows(blocks, pool, modes)

    return run


@functools.cache
def _row_pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rows")


class _ThreadModes:
    """The calling thread's inference / grad modes, to enter in a worker thread."""

    def __init__(self) -> None:
        self.inference = torch.is_inference_mode_enabled()
        self.grad = torch.is_grad_enabled()

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with torch.inference_mode(self.inference), torch.set_grad_enabled(self.grad):
            yield


def _join_rows(blocks: list[Any], pool: ThreadPoolExecutor, modes: _ThreadModes) -> Any:
    """The row blocks' results joined along dimension -2 (copies in parallel, one per block)."""
    first = blocks[0]
    if first is None:
        return None
    if isinstance(first, tuple):
        return tuple(_join_rows([b[j] for b in blocks], pool, modes) for j in range(len(first)))
    sizes = [b.shape[-2] for b in blocks]
    out = first.new_empty((*first.shape[:-2], sum(sizes), first.shape[-1]))
    starts = [sum(sizes[:i]) for i in range(len(blocks))]

    def copy(i: int) -> None:
        with modes():
            out[..., starts[i] : starts[i] + sizes[i], :].copy_(blocks[i])

    copies = [pool.submit(copy, i) for i in range(1, len(blocks))]
    copy(0)
    for f in copies:
        f.result()
    return out


def resolve_engine(choice: str, device: str | torch.device | None = None) -> str:
    """``torch`` or ``onnxruntime`` for a choice (``auto``: onnxruntime on CPU, torch on CUDA)."""
    if choice not in ENGINES:
        raise EngineError(f"unknown engine {choice!r} (one of {', '.join(ENGINES)})")
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if choice == "auto":
        return "onnxruntime" if dev.type == "cpu" else "torch"
    if choice == "onnxruntime" and dev.type != "cpu":
        raise EngineError(f"the onnxruntime engine runs on the CPU, not {dev}; use --engine torch")
    return choice


def export_onnx(network: nn.Module, info: ModelInfo) -> bytes:
    """ONNX graph of ``network`` (input ``bands``, output ``logits``; dynamic batch, height and
    width), checked with ONNX Runtime against torch on one patch (EngineError beyond
    :data:`EXPORT_TOLERANCE`). TorchScript-based exporter (``dynamo=False``: the dynamo exporter
    needs the ``onnxscript`` package). The network is used on the CPU and left in eval mode."""
    network = network.cpu().eval()
    graph_network = _onnx_friendly(network)
    d = size_divisor(info.network)
    h, w = (max(d, -(-int(s) // d) * d) for s in info.patch_size)
    x = torch.randn(1, info.network.in_channels, h, w, generator=torch.Generator().manual_seed(0))
    axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # The legacy exporter announces its deprecation and the tracer warns about shape checks
        # it turns into constants; neither changes the exported graph for these networks.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*instance_norm.*", category=UserWarning)
        torch.onnx.export(
            graph_network,
            (x,),
            buf,  # type: ignore[arg-type]  # file-like objects are accepted by the legacy exporter
            dynamo=False,
            input_names=["bands"],
            output_names=["logits"],
            dynamic_axes={"bands": axes, "logits": axes},
            opset_version=ONNX_OPSET,
        )
    data = buf.getvalue()
    with torch.inference_mode():
        want = network(x).numpy()
    got = OnnxRuntimeEngine(data, threads=1)(x).numpy()
    diff = float(np.abs(got.astype(np.float64) - want).max())
    if not diff <= EXPORT_TOLERANCE:  # also catches NaN
        raise EngineError(f"the ONNX export differs from torch by {diff:.2e} on a patch")
    return data


def _onnx_friendly(network: nn.Module) -> nn.Module:
    """A copy of ``network`` with each single-slope ``PReLU`` (MONAI's default activation) as
    ``LeakyReLU`` of that slope: the same function (``x`` where ``x >= 0``, else ``slope * x``,
    one float32 product), but ONNX Runtime runs ``LeakyRelu`` as a vectorised kernel and
    ``PRelu`` through its generic broadcasting path, 36% of the default UNet's time on a
    2-core CPU (BENCHMARKS.md). The export is checked against the original network."""
    if not any(isinstance(m, nn.PReLU) and m.weight.numel() == 1 for m in network.modules()):
        return network
    copy = deepcopy(network)
    for parent in list(copy.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.PReLU) and child.weight.numel() == 1:
                setattr(parent, name, nn.LeakyReLU(float(child.weight.detach())))
    return copy


def build_engine(
    choice: str, network: nn.Module, info: ModelInfo, amp: bool, channels_last: bool
) -> Engine:
    """An engine for a network on its device (``torch``: with AMP / channels-last as given;
    ``onnxruntime``: exported now, in memory; registered models use :func:`store_engine`)."""
    # a network without parameters (an oracle in tests, a fixed function) runs on the CPU
    first = next(network.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    if resolve_engine(choice, device) == "onnxruntime":
        engine = _onnxruntime(choice, lambda: export_onnx(network, info), "the network")
        if engine is not None:
            return engine
    return TorchEngine(network, amp=amp, channels_last=channels_last)


def cached_onnx(store: CaptureStore, model_id: str, network: nn.Module, info: ModelInfo) -> bytes:
    """The registered model's ONNX graph: from the registry, else exported now and added to it
    (``add_model_file``: the first writer wins when several processes export at once)."""
    try:
        return store.get_model_file(model_id, ONNX_FILE)
    except RecordNotFoundError:
        pass
    log.info("model %s: exporting to ONNX once (kept in the registry as %s)", model_id, ONNX_FILE)
    return store.add_model_file(model_id, ONNX_FILE, export_onnx(network, info))


def store_engine(
    store: CaptureStore,
    model_id: str,
    network: nn.Module,
    info: ModelInfo,
    choice: str | None = None,
    *,
    device: str | torch.device | None = None,
) -> Engine | Literal["torch"]:
    """The engine for a registered model: ``choice`` (None: the ``engine`` setting, i.e.
    ``WOUND_ENGINE``, default ``auto``). ``"torch"`` is built by the predictor (it knows AMP and
    the memory format); onnxruntime gets the registry's cached graph. ``auto`` falls back to
    torch when the export fails; an explicit ``onnxruntime`` raises EngineError instead."""
    if choice is None:
        from wound.settings import get_settings

        choice = get_settings().engine
    if resolve_engine(choice, device) == "onnxruntime":
        engine = _onnxruntime(
            choice, lambda: cached_onnx(store, model_id, network, info), f"model {model_id}"
        )
        if engine is not None:
            return engine
    return "torch"


def _onnxruntime(choice: str, graph: Callable[[], bytes], what: str) -> Engine | None:
    """ONNX Runtime on ``graph()``; None (logged) when that fails and ``choice`` is ``auto``."""
    try:
        return OnnxRuntimeEngine(graph())
    except Exception as exc:  # the exporter raises many types; auto falls back, others fail
        if choice != "auto":
            if isinstance(exc, WoundError):
                raise
            raise EngineError(f"{what}: no ONNX export ({exc})") from None
        log.warning("%s: onnxruntime unavailable (%s); using torch", what, exc)
        return None
