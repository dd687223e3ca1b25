"""Label Studio labeling configs, generated from the task table (one project per task).

Each config has: the capture's main rendering (``$image``: false colour, or an RGB photo as
itself) with brush labels carrying the task table's fixed class names and colours
(:mod:`wound.tasks`); the single bands
(``$bands``, one page per band, titled with its wavelength in ``$band_titles``); the clinical
reference panel (``$reference``, HTML) with thumbnails of the wound's earlier captures
(``$earlier``, pages, dated in ``$earlier_titles``: Label Studio strips inline images from
HTML, so they are renderings like the others); for burns a per-capture healing choice; a
comment box.
Background (class 0) is not a label: unpainted pixels are background.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from wound.errors import WoundError
from wound.tasks import get_task

BRUSH = "label"  # <BrushLabels name=...>
IMAGE = "image"  # <Image name=...> the brush paints on
HEALING = "healing"
COMMENT = "comment"
HEALING_CHOICES = {"heals within 21 days": 1, "does not heal within 21 days": 0}


class LabelingError(WoundError):
    """A labeling operation refused or failed (bad annotation, unknown task, server down)."""


@dataclass(frozen=True)
class LabelClass:
    """One brush label: fixed class id, name shown to the clinician, colour."""

    id: int
    name: str
    colour: str


@dataclass(frozen=True)
class TaskLabels:
    """What a labeling project of one task offers."""

    task: str
    classes: tuple[LabelClass, ...]  # paintable classes (background excluded)
    healing_choice: bool
    input_kind: str  # "multispectral" | "rgb" (which captures the project takes)

    def by_name(self) -> dict[str, int]:
        return {c.name: c.id for c in self.classes}


def task_labels(task: str) -> TaskLabels:
    """The labels of ``task`` from the task table (class 0, background, is not painted)."""
    try:
        spec = get_task(task)
    except ValueError as exc:
        raise LabelingError(str(exc)) from None
    classes = tuple(LabelClass(c.id, c.name, c.colour) for c in spec.classes if c.id != 0)
    return TaskLabels(spec.name, classes, spec.has_healing, spec.input_kind)


def project_title(task: str) -> str:
    """The Label Studio project title of a task (how push/pull find the project)."""
    return f"wound {task}"


def labeling_config(task: str) -> str:
    """The ``<View>`` XML of ``task``'s project."""
    labels = task_labels(task)
    label_tags = "\n".join(
        f"      <Label value={quoteattr(c.name)} background={quoteattr(c.colour)}/>"
        for c in labels.classes
    )
    healing = ""
    if labels.healing_choice:
        options = "\n".join(f"      <Choice value={quoteattr(v)}/>" for v in HEALING_CHOICES)
        healing = (
            '    <Header value="Healing (whole capture)"/>\n'
            f'    <Choices name="{HEALING}" toName="{IMAGE}" choice="single" '
            'showInLine="true">\n'
            f"{options}\n    </Choices>\n"
        )
    return f"""<View>
  <Style>.wound-side {{ padding-left: 12px; max-width: 420px; }}</Style>
  <View style="display: flex; align-items: flex-start;">
    <View style="flex: 3;">
    <Header value="$image_title"/>
    <BrushLabels name="{BRUSH}" toName="{IMAGE}">
{label_tags}
    </BrushLabels>
    <Image name="{IMAGE}" value="$image" zoom="true" zoomControl="true"/>
{healing}    <Header value="Comment"/>
    <TextArea name="{COMMENT}" toName="{IMAGE}" editable="true" rows="2" maxSubmissions="1"/>
    </View>
    <View className="wound-side" style="flex: 2;">
    <Header value="Clinical reference"/>
    <HyperText name="reference" value="$reference" inline="true"/>
    <Header value="Earlier captures of this wound" size="5"/>
    <Text name="earlier_titles" value="$earlier_titles"/>
    <Image name="earlier" valueList="$earlier" maxWidth="320px"/>
    <Header value="Single bands" size="5"/>
    <Text name="band_titles" value="$band_titles"/>
    <Image name="bands" valueList="$bands" maxWidth="320px"/>
    </View>
  </View>
</View>
"""
