"""The task table: everything the platform knows about a task, asked here instead of branching
on its name.

A :class:`TaskSpec` says what a task's model reads (a multispectral cube or an RGB photo), the
channel layout of its network output (:class:`Head`: which channels, which activation), its
classes (ids, names and colours from :mod:`wound.taxonomy`), the label planes a training item
stacks and where each comes from in the store, the maps a prediction stores, the validation
metrics that apply and the headline one. Adding a task is one entry in :data:`TASKS` plus the
code that is really new (its data, its loss if DiceCE is not enough).

Tasks today:

- ``burn-depth``: 7 output channels = 6 depth-class logits (softmax) + 1 healing logit
  (sigmoid, "heals within 21 days"); labels depth + healing (derived from depth when a store
  capture has no healing annotation).
- ``wound-mask``: 2 output channels = background / wound logits (softmax); labels a wound mask.
- ``ulcer-healing``: 3 output channels = no-ulcer / ulcer-bed logits (softmax) + 1 viability
  logit (sigmoid, "tissue viable": skin whose StO2 is viable, bed that closes by week 12),
  scored on every pixel; its ``capture_outcome`` is the capture-level probability that the
  ulcer shrinks by >= 50 % in 4 weeks, read from the map around the ulcer
  (:mod:`wound.outcome`, docs/longitudinal.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from wound.taxonomy import (
    DEPTH_COLOURS,
    DEPTH_NAMES,
    SKIN_CLASSES,
    WOUND_CLASSES,
    WOUND_MASK_COLOURS,
    WOUND_MASK_NAMES,
    healing_from_depth,
)

InputKind = Literal["multispectral", "rgb"]
Activation = Literal["softmax", "sigmoid"]


@dataclass(frozen=True)
class Head:
    """Channels ``start:stop`` of the network output and their activation.

    ``softmax`` heads give class probabilities (the first head is the class head); ``sigmoid``
    heads give one probability per channel. ``description`` names what the probability means.
    """

    name: str
    start: int
    stop: int
    activation: Activation
    description: str = ""

    @property
    def channels(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def width(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class TaskClass:
    """One class of the class head: fixed id, name and display colour (``#rrggbb``)."""

    id: int
    name: str
    colour: str


@dataclass(frozen=True)
class LabelPlane:
    """One plane of a training item's ``L x H x W`` labels.

    ``field``: the :class:`wound.capture.GroundTruth` field it comes from; ``annotation_task``:
    the store annotation task holding it; ``binary``: stored as 0/1 (``> 0``); ``derive``: how to
    make it from the first (class) plane when it is missing (None: required).
    """

    field: str
    annotation_task: str
    binary: bool = False
    derive: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass(frozen=True)
class TaskSpec:
    """What one task is (see the module docstring)."""

    name: str
    input_kind: InputKind
    description: str
    heads: tuple[Head, ...]
    classes: tuple[TaskClass, ...]
    label_planes: tuple[LabelPlane, ...]
    #: class ids counted as wound (area, wound Dice)
    wound_classes: tuple[int, ...]
    #: class ids counted as skin (the pixels a healing probability is scored on)
    skin_classes: tuple[int, ...]
    #: name of the class map in a stored prediction, then the other maps it stores
    class_map: str
    map_names: tuple[str, ...]
    #: key of the class metrics in an evaluation report ("depth" / "segmentation")
    report_key: str
    #: validation metrics computed during training (``val_loss`` too when a loss is given)
    metrics: tuple[str, ...]
    headline_metric: str
    #: capture-level outcome read from the pooled map (:mod:`wound.outcome`); None: none
    capture_outcome: str | None = None

    def __post_init__(self) -> None:
        if not self.heads or self.heads[0].activation != "softmax":
            raise ValueError(f"task {self.name}: the first head must be the softmax class head")
        if self.heads[0].width != len(self.classes):
            raise ValueError(f"task {self.name}: class head width != number of classes")
        if [c.id for c in self.classes] != list(range(len(self.classes))):
            raise ValueError(f"task {self.name}: class ids must be 0..K-1 in order")
        stop = 0
        for head in self.heads:
            if head.start != stop or head.stop <= head.start:
                raise ValueError(f"task {self.name}: heads must tile the output channels")
            stop = head.stop
        if self.headline_metric not in self.metrics:
            raise ValueError(f"task {self.name}: headline metric not among its metrics")

    # --- derived answers ----------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def out_channels(self) -> int:
        return self.heads[-1].stop

    @property
    def class_head(self) -> Head:
        return self.heads[0]

    @property
    def class_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.classes}

    @property
    def class_colours(self) -> dict[int, str]:
        return {c.id: c.colour for c in self.classes}

    def head(self, name: str) -> Head | None:
        """The head called ``name`` (None when the task has none)."""
        return next((h for h in self.heads if h.name == name), None)

    @property
    def has_healing(self) -> bool:
        """Whether the network also predicts "heals within 21 days" per pixel."""
        return self.head("healing") is not None

    @property
    def annotation_tasks(self) -> tuple[str, ...]:
        """Store annotation tasks read for training (class plane first)."""
        return tuple(p.annotation_task for p in self.label_planes)


def _depth_classes() -> tuple[TaskClass, ...]:
    return tuple(TaskClass(k, DEPTH_NAMES[k], DEPTH_COLOURS[k]) for k in sorted(DEPTH_NAMES))


def _wound_mask_classes() -> tuple[TaskClass, ...]:
    return tuple(
        TaskClass(k, WOUND_MASK_NAMES[k], WOUND_MASK_COLOURS[k]) for k in sorted(WOUND_MASK_NAMES)
    )


BURN_DEPTH = TaskSpec(
    name="burn-depth",
    input_kind="multispectral",
    description="Burn depth class per pixel and whether the skin heals within 21 days.",
    heads=(
        Head("depth", 0, 6, "softmax", "burn depth class"),
        Head("healing", 6, 7, "sigmoid", "heals within 21 days"),
    ),
    classes=_depth_classes(),
    label_planes=(
        LabelPlane("depth", "burn-depth"),
        LabelPlane("healing", "healing", binary=True, derive=healing_from_depth),
    ),
    wound_classes=WOUND_CLASSES,
    skin_classes=SKIN_CLASSES,
    class_map="depth",
    map_names=("depth", "healing_prob", "uncertainty"),
    report_key="depth",
    metrics=("healing_auc", "depth_dice", "depth_accuracy"),
    headline_metric="healing_auc",
)

WOUND_MASK = TaskSpec(
    name="wound-mask",
    input_kind="rgb",
    description="Wound / background per pixel (diabetic foot ulcer photographs).",
    heads=(Head("wound", 0, 2, "softmax", "wound"),),
    classes=_wound_mask_classes(),
    label_planes=(LabelPlane("wound_mask", "wound-mask", binary=True),),
    wound_classes=(1,),
    skin_classes=(),
    class_map="wound",
    map_names=("wound", "wound_prob", "uncertainty"),
    report_key="segmentation",
    metrics=("dice",),
    headline_metric="dice",
)

ULCER_HEALING = TaskSpec(
    name="ulcer-healing",
    input_kind="multispectral",
    description="Diabetic foot ulcer: bed per pixel, where the tissue looks non-viable, and the "
    "probability of >= 50 % area reduction at 4 weeks from one capture.",
    heads=(
        Head("wound", 0, 2, "softmax", "ulcer bed"),
        Head("healing", 2, 3, "sigmoid", "tissue viable (skin StO2 viable; bed closes by week 12)"),
    ),
    classes=(TaskClass(0, "no ulcer", "#000000"), TaskClass(1, "ulcer bed", "#e63946")),
    label_planes=(
        LabelPlane("wound_mask", "ulcer-healing", binary=True),
        LabelPlane("healing", "ulcer-viability", binary=True),
    ),
    wound_classes=(1,),
    skin_classes=(0, 1),  # the viability map is read on every pixel (periwound skin and bed)
    class_map="wound",
    map_names=("wound", "healing_prob", "uncertainty"),
    report_key="segmentation",
    metrics=("healing_auc", "dice"),
    headline_metric="healing_auc",
    capture_outcome="percent area reduction at 4 weeks >= 50 %",
)

#: Every task, by name.
TASKS: dict[str, TaskSpec] = {t.name: t for t in (BURN_DEPTH, WOUND_MASK, ULCER_HEALING)}
#: The task a command works on when none is given (the platform's main job).
DEFAULT_TASK = BURN_DEPTH.name


def get_task(name: str | TaskSpec) -> TaskSpec:
    """The :class:`TaskSpec` called ``name`` (a TaskSpec is returned as is); ValueError naming
    the known tasks when there is none."""
    if isinstance(name, TaskSpec):
        return name
    spec = TASKS.get(name)
    if spec is None:
        raise ValueError(f"unknown task {name!r} (known: {', '.join(sorted(TASKS))})")
    return spec
