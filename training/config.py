"""The typed run config: a YAML file loaded into :class:`RunConfig`, saved resolved with every run.

Example (``configs/burn-depth.yaml``)::

    task: burn-depth
    network: {name: unet, channels: [16, 32, 64, 128], strides: [2, 2, 2], num_res_units: 1}
    data:
      source: phantom
      phantom: {subjects: 12, captures_per_subject: 5, seed: 7, config: {height: 160, width: 160}}
    split: {val_fraction: 0.25, seed: 0}
    patch_size: [96, 96]
    batch_size: 16
    epochs: 30
    output_dir: runs/burn-depth
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.calibration import CalibrationConfig
from wound.errors import WoundError
from wound.networks import InferenceSettings, NetworkSpec, Task, size_divisor
from wound.tasks import DEFAULT_TASK, TaskSpec, get_task

Auto = Literal["auto"]
LabelSpec = Literal["truth", "latest"] | int
MetricName = Literal["auto", "healing_auc", "depth_dice", "dice", "val_loss"]


class RunConfigError(WoundError):
    """A run config file is missing, not YAML, or not a valid run config."""

    def __init__(self, source: str | Path | None, problem: str) -> None:
        self.source = str(source) if source is not None else None
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhantomSource(_Strict):
    """A phantom cohort generated in memory (``wound.phantom.synth_cohort``)."""

    subjects: int = Field(12, ge=2)
    captures_per_subject: int = Field(5, ge=1)
    seed: int = 7
    config: dict[str, Any] = Field(
        default_factory=dict, description="PhantomConfig fields, e.g. {height: 160, width: 160}."
    )


class CaptureFilter(_Strict):
    """Which store captures to train on (all of them by default)."""

    wound_type: Literal["burn", "dfu", "other"] | None = None
    subjects: list[str] | None = None
    capture_ids: list[str] | None = None
    limit: int | None = Field(None, ge=1, description="At most this many captures (oldest first).")


class DataConfig(_Strict):
    """Where captures and labels come from."""

    source: Literal["store", "phantom"] = "phantom"
    label: LabelSpec = Field(
        "truth", description='"truth" (ground truth), "latest" annotation, or a version number.'
    )
    phantom: PhantomSource = Field(default_factory=PhantomSource)
    filter: CaptureFilter = Field(default_factory=CaptureFilter)
    cache_dir: Path | None = Field(
        None, description="Local TIFF cache of store captures (default: <output_dir>/cache)."
    )

    @model_validator(mode="after")
    def _label_valid(self) -> DataConfig:
        if isinstance(self.label, int) and self.label < 1:
            raise ValueError("label: annotation versions start at 1")
        if self.source == "phantom" and self.label != "truth":
            raise ValueError('label: the phantom only has ground truth (label: "truth")')
        return self


class SplitConfig(_Strict):
    """Split by subject: ``val_fraction`` of the subjects (at least one) go to validation."""

    val_fraction: float = Field(0.25, gt=0, lt=1)
    seed: int = 0


class AugmentConfig(_Strict):
    """Random augmentation of training patches (probabilities and ranges)."""

    flip_prob: float = Field(0.5, ge=0, le=1)
    rot90_prob: float = Field(0.5, ge=0, le=1)
    gain_prob: float = Field(0.8, ge=0, le=1)
    global_gain: float = Field(0.15, ge=0, lt=1, description="Illumination gain 1 ± this.")
    band_gain: float = Field(0.05, ge=0, lt=1, description="Per-band gain 1 ± this.")
    melanin: float = Field(
        0.0, ge=0, le=2, description="Skin-tone jitter: melanin optical depth ± this at 500 nm."
    )
    noise_prob: float = Field(0.3, ge=0, le=1)
    noise_std: float = Field(0.05, ge=0, description="Gaussian noise std (normalised units).")
    zoom: tuple[float, float] | None = Field(
        None, description="Photographs: random zoom range (>1: the wound fills more of the frame)."
    )
    zoom_prob: float = Field(0.5, ge=0, le=1)
    gamma: tuple[float, float] | None = Field(
        None, description="Photographs: random gamma (contrast) range, with gain_prob."
    )
    pad_to_patch: bool = Field(
        False, description="Pad captures smaller than patch_size (e.g. resized photographs)."
    )


class EarlyStopping(_Strict):
    """Which weights a run keeps, and when it stops.

    ``keep: best`` (default): the epoch with the best validation ``metric``; stop when it has not
    improved for ``patience`` validations (None: never). ``keep: last``: the weights of the last
    epoch of the schedule (no early stopping; validation is still run and reported) — better when
    the validation set is too small to pick an epoch reliably (docs/benchmark-segmentation.md).
    """

    keep: Literal["best", "last"] = "best"
    patience: int | None = Field(8, ge=1)
    metric: MetricName = Field(
        "auto", description="auto: the task's headline metric (wound.tasks)."
    )
    min_delta: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _last_runs_to_the_end(self) -> EarlyStopping:
        if self.keep == "last":
            if self.patience is not None and "patience" in self.model_fields_set:
                raise ValueError(
                    "early_stopping: keep: last trains to the end of the schedule; "
                    "remove patience (or set it to null)"
                )
            self.patience = None
        return self


class CacheConfig(_Strict):
    """MONAI CacheDataset over the deterministic load + normalise transforms."""

    enabled: bool = True
    rate: float = Field(1.0, gt=0, le=1)
    workers: int | None = Field(None, ge=1)


class RunConfig(_Strict):
    """Everything a training run needs; ``resolved()`` fills what depends on data and device."""

    task: Task = DEFAULT_TASK
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    patch_size: tuple[int, int] = (96, 96)
    crops_per_capture: int = Field(4, ge=1, description="Random patches drawn per capture.")
    crop: Literal["random", "pos_neg"] = "random"
    batch_size: int = Field(16, ge=1, description="Patches per optimiser step (per process).")
    epochs: int = Field(30, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_epochs: float = Field(1.0, ge=0)
    grad_clip: float | None = Field(1.0, gt=0)
    healing_weight: float = Field(1.0, ge=0, description="Weight of the healing BCE term.")
    batch_dice: bool = Field(
        False, description="Dice pooled over the batch (closer to data-based Dice), not per image."
    )
    amp: bool | Auto = Field("auto", description="Mixed precision; auto: on when CUDA.")
    channels_last: bool | Auto = Field("auto", description="auto: on when CUDA.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    calibration: CalibrationConfig = Field(
        default_factory=CalibrationConfig,
        description="Calibration split and rules (training.calibration, docs/calibration.md).",
    )
    cache: CacheConfig = Field(default_factory=CacheConfig)
    workers: int = Field(0, ge=0, description="DataLoader worker processes (0: main process).")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's).")
    val_every: int = Field(1, ge=1)
    val_sw_batch: int = Field(8, ge=1, description="Sliding-window batch at validation.")
    inference: InferenceSettings = Field(
        default_factory=InferenceSettings,
        description="How the model is run (validation, evaluation, deployment); saved with it.",
    )
    seed: int = 0
    output_dir: Path = Path("runs/burn-depth")
    progress: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        want = self.spec.out_channels
        if self.network.out_channels != want:
            if "out_channels" in self.network.model_fields_set:
                raise ValueError(
                    f"network.out_channels={self.network.out_channels} but task {self.task} "
                    f"needs {want}"
                )
            self.network = self.network.model_copy(update={"out_channels": want})
        if self.batch_size % self.crops_per_capture:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be a multiple of crops_per_capture "
                f"({self.crops_per_capture})"
            )
        if self.network.ensemble > 1:
            raise ValueError(
                "network.ensemble: an ensemble is made of trained models (`wound models "
                "ensemble`, or `wound benchmark segmentation --ensemble`), not trained"
            )
        factor = size_divisor(self.network)
        if any(p % factor for p in self.patch_size):
            raise ValueError(f"patch_size {self.patch_size} must be a multiple of {factor}")
        metric = self.early_stopping.metric
        if metric not in ("auto", "val_loss") and metric not in self.spec.metrics:
            raise ValueError(
                f"early_stopping.metric {metric} does not apply to task {self.task} "
                f"(use {', '.join(self.spec.metrics)} or val_loss)"
            )
        return self

    # --- resolution ---------------------------------------------------------------------------
    @property
    def spec(self) -> TaskSpec:
        """The task's entry in :data:`wound.tasks.TASKS`."""
        return get_task(self.task)

    @property
    def stop_metric(self) -> str:
        """The validation metric early stopping and model selection use."""
        if self.early_stopping.metric != "auto":
            return self.early_stopping.metric
        return self.spec.headline_metric

    def resolved(self, *, in_channels: int, cuda: bool) -> RunConfig:
        """A copy with bands, device, AMP and channels-last decided (what gets saved)."""
        network = self.network.model_copy(update={"in_channels": in_channels})
        device = "cuda" if cuda else "cpu"
        amp = cuda if self.amp == "auto" else bool(self.amp and cuda)
        channels_last = cuda if self.channels_last == "auto" else bool(self.channels_last)
        metric = self.stop_metric
        return self.model_copy(
            update={
                "network": network,
                "device": device,
                "amp": amp,
                "channels_last": channels_last,
                "early_stopping": self.early_stopping.model_copy(update={"metric": metric}),
            }
        )

    # --- YAML -----------------------------------------------------------------------------------
    def to_yaml(self) -> str:
        data = self.model_dump(mode="json")
        return yaml.safe_dump(data, sort_keys=False)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_yaml())
        tmp.replace(path)
        return path


def parse_config(data: Any, source: str | Path | None = None) -> RunConfig:
    """Validate a mapping as a :class:`RunConfig`; errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise RunConfigError(source, "a run config must be a YAML mapping (task: ..., data: ...)")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise RunConfigError(source, f"invalid run config: {problems}") from None


def load_config(path: str | Path, **overrides: Any) -> RunConfig:
    """Read a YAML run config (top-level ``overrides`` win) into a :class:`RunConfig`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RunConfigError(path, f"cannot read run config ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RunConfigError(path, f"not valid YAML ({exc})") from None
    if isinstance(data, dict):
        data = {**data, **overrides}
    return parse_config(data, path)
