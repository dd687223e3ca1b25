"""Label masks <-> Label Studio brush results, through ``label_studio_sdk.converter.brush``.

One result per painted class: its pixels as an RLE of an RGBA layer (the alpha channel holds the
paint, 255 painted / 0 not), as Label Studio's editor writes it. Decoding reads the alpha
channel (> 127 = painted, tolerating the editor's antialiased edges) and paints each region with
its class id; where regions of one annotation overlap, the deeper class (higher id) wins.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle

from labeling.config import BRUSH, IMAGE, LabelingError, TaskLabels

Result = dict[str, Any]


def mask_to_results(
    mask: np.ndarray, labels: TaskLabels, *, from_name: str = BRUSH, to_name: str = IMAGE
) -> list[Result]:
    """Brush results for every class of ``labels`` present in ``mask`` (uint8 class ids)."""
    if mask.ndim != 2:
        raise LabelingError(f"mask must be H x W, got {mask.shape}")
    height, width = (int(n) for n in mask.shape)
    known = {c.id for c in labels.classes}
    unknown = sorted(set(np.unique(mask).tolist()) - known - {0})
    if unknown:
        raise LabelingError(f"mask holds class ids {unknown} unknown to task {labels.task}")
    results: list[Result] = []
    for cls in labels.classes:
        layer = mask == cls.id
        if not layer.any():
            continue
        results.append(
            {
                "id": uuid.uuid5(uuid.NAMESPACE_OID, f"{labels.task}:{cls.id}").hex[:10],
                "type": "brushlabels",
                "from_name": from_name,
                "to_name": to_name,
                "original_width": width,
                "original_height": height,
                "image_rotation": 0,
                "value": {
                    "format": "rle",
                    "rle": mask2rle(layer.astype(np.uint8) * 255),
                    "brushlabels": [cls.name],
                },
            }
        )
    return results


def results_to_mask(
    results: list[Result],
    labels: TaskLabels,
    shape: tuple[int, int],
    *,
    from_name: str = BRUSH,
    what: str = "annotation",
) -> np.ndarray:
    """The uint8 class-id mask of an annotation's brush results (other result types ignored).

    Raises :class:`LabelingError` naming ``what`` for an unknown label name or a size that does
    not match ``shape`` (H, W); nothing is returned in part.
    """
    names = labels.by_name()
    height, width = shape
    mask = np.zeros((height, width), dtype=np.uint8)
    layers: list[tuple[int, np.ndarray]] = []
    for result in results:
        if result.get("type", "").lower() != "brushlabels" or result.get("from_name") != from_name:
            continue
        value = result.get("value", {})
        size = (result.get("original_height"), result.get("original_width"))
        if size != (height, width):
            raise LabelingError(
                f"{what}: brush mask {size[0]}x{size[1]} does not match the capture's "
                f"{height}x{width}"
            )
        chosen = value.get("brushlabels") or []
        bad = [n for n in chosen if n not in names]
        if bad or len(chosen) != 1:
            raise LabelingError(
                f"{what}: label {bad or chosen} is not one of {sorted(names)} (task {labels.task})"
            )
        if value.get("format", "rle") != "rle" or "rle" not in value:
            raise LabelingError(f"{what}: brush region without an RLE")
        flat = decode_rle(value["rle"])
        if flat.size != height * width * 4:
            raise LabelingError(f"{what}: RLE holds {flat.size // 4} pixels, not {height}x{width}")
        layers.append((names[chosen[0]], flat.reshape(height, width, 4)[:, :, 3] > 127))
    for class_id, painted in sorted(layers, key=lambda item: item[0]):
        mask[painted] = class_id
    return mask
