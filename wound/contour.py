"""Region contours as polygons (pixel coordinates, and millimetres when spacing is known)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy import ndimage
from skimage.measure import find_contours

#: Regions (and holes in them) smaller than this many pixels get no contour of their own.
MIN_REGION_PIXELS = 16
#: At most this many regions are outlined, the largest first, and this many polygons returned.
MAX_REGIONS = 50
MAX_POLYGONS = 100


class Contour(BaseModel):
    """One closed polygon: ``(row, col)`` vertices, first == last. ``hole`` outlines a gap."""

    model_config = ConfigDict(frozen=True)

    points_px: list[tuple[float, float]]
    points_mm: list[tuple[float, float]] | None = None
    region_pixels: int = 0
    hole: bool = False


def mask_contours(
    mask: np.ndarray,
    *,
    spacing_mm: float | None = None,
    min_pixels: int = MIN_REGION_PIXELS,
    max_regions: int = MAX_REGIONS,
) -> list[Contour]:
    """Outlines of the ``True`` regions of ``mask`` (``skimage.measure.find_contours`` at 0.5).

    Connected regions (8-connectivity) of at least ``min_pixels`` are outlined, the
    ``max_regions`` largest, each on its own padded crop so regions touching the border still
    give closed polygons; holes smaller than ``min_pixels`` are filled first; at most
    :data:`MAX_POLYGONS` polygons (outlines and holes), the largest, are kept. Collinear vertices
    are removed (lossless: a binary outline is made of straight runs). Areas reported elsewhere
    count every pixel; the contours are for display.
    """
    if not mask.any():
        return []
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    sizes = np.bincount(labels.ravel())[1:]
    order = _largest(sizes, max_regions, min_pixels)
    relabel = np.zeros(n + 1, dtype=np.int32)  # kept regions only: find_objects stays cheap
    relabel[np.asarray(order, dtype=np.int64) + 1] = np.arange(1, len(order) + 1)
    labels = relabel[labels]
    boxes = ndimage.find_objects(labels)
    found: list[tuple[float, Contour]] = []
    for j, i in enumerate(order):
        box = boxes[j]
        assert box is not None
        region = np.pad(labels[box] == j + 1, 1)
        region = _fill_small_holes(region, min_pixels)
        offset = np.array([box[0].start - 1, box[1].start - 1], dtype=float)
        for poly in find_contours(region.astype(np.float32), 0.5):
            area = _signed_area(poly)
            if abs(area) < min_pixels:
                continue
            poly = _drop_collinear(poly) + offset
            px = [(round(float(r), 2), round(float(c), 2)) for r, c in poly]
            mm = None
            if spacing_mm is not None:
                mm = [(round(r * spacing_mm, 3), round(c * spacing_mm, 3)) for r, c in px]
            # find_contours winds outer boundaries and holes in opposite directions
            contour = Contour(
                points_px=px, points_mm=mm, region_pixels=int(sizes[i]), hole=area > 0
            )
            found.append((abs(area), contour))
    found.sort(key=lambda item: -item[0])
    return [contour for _, contour in found[:MAX_POLYGONS]]


def _largest(sizes: np.ndarray, count: int, min_size: int) -> list[int]:
    """Indices of the ``count`` largest ``sizes`` (at least ``min_size``), largest first, ties
    in index order. Partial selection: a noisy mask can have ~10^5 regions."""
    candidates = np.flatnonzero(sizes >= min_size)
    if candidates.size > count:
        cut = np.partition(sizes[candidates], candidates.size - count)[candidates.size - count]
        above = candidates[sizes[candidates] > cut]
        ties = candidates[sizes[candidates] == cut][: count - above.size]
        candidates = np.concatenate([above, ties])
    ranked = candidates[np.lexsort((candidates, -sizes[candidates]))]
    return [int(i) for i in ranked]


def _fill_small_holes(region: np.ndarray, min_pixels: int) -> np.ndarray:
    background, _ = ndimage.label(~region)
    sizes = np.bincount(background.ravel())
    small = sizes < min_pixels
    small[0] = False
    small[background[0, 0]] = False  # the outside (the crop is padded, so it is connected)
    return region | small[background]


def _signed_area(poly: np.ndarray) -> float:
    """Shoelace area of a closed polygon (first == last); the sign gives the winding."""
    r, c = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(r[:-1], c[1:]) - np.dot(c[:-1], r[1:]))


def _drop_collinear(poly: np.ndarray) -> np.ndarray:
    """Keep the vertices where the outline turns (closed polygon: first == last kept)."""
    if len(poly) < 4:
        return poly
    ring = poly[:-1]
    prev = ring - np.roll(ring, 1, axis=0)
    nxt = np.roll(ring, -1, axis=0) - ring
    cross = prev[:, 0] * nxt[:, 1] - prev[:, 1] * nxt[:, 0]
    keep = np.abs(cross) > 1e-9
    if not keep.any():
        return poly
    kept = ring[keep]
    return np.vstack([kept, kept[:1]])
