"""Pictures of captures and predictions (pure NumPy + Pillow; cached by the pages).

- false colour: three bands (nearest to a preset's target wavelengths) as R/G/B, one
  percentile stretch (1st-99th) for all three so the colour balance is kept;
- the class overlay: each class pixel blended with its fixed colour (:mod:`wound.tasks`) at the
  chosen opacity; background and healthy skin stay as captured;
- indeterminate regions: white diagonal hatching over the wound pixels whose uncertainty is above
  the score's threshold;
- the non-healing contour: the score's polygons, drawn cyan on a dark outline.

Small captures are enlarged (nearest neighbour) to about :data:`DISPLAY_SIZE` pixels so the marks
stay legible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from wound.taxonomy import hex_to_rgb

#: False-colour presets: name -> target wavelengths (nm) shown as red, green, blue.
PRESETS: dict[str, tuple[float, float, float]] = {
    "Natural colour (640/550/460 nm)": (640.0, 550.0, 460.0),
    "Colour infrared (855/660/550 nm)": (855.0, 660.0, 550.0),
    "Haemoglobin contrast (581/525/420 nm)": (581.0, 525.0, 420.0),
}
DEFAULT_PRESET = next(iter(PRESETS))
DISPLAY_SIZE = 640
CONTOUR_COLOUR = "#00e5ff"
HATCH_COLOUR = (255, 255, 255)
HATCH_PERIOD = 8


def nearest_bands(wavelengths: Sequence[float], targets: Sequence[float]) -> tuple[int, int, int]:
    """Indices of the bands nearest each target wavelength."""
    wl = np.asarray(wavelengths, dtype=float)
    r, g, b = (int(np.abs(wl - t).argmin()) for t in targets)
    return r, g, b


def stretch(planes: np.ndarray, percentiles: tuple[float, float] = (1.0, 99.0)) -> np.ndarray:
    """K x H x W floats -> uint8, one percentile range for all planes."""
    values = planes[np.isfinite(planes)]
    if values.size == 0:
        return np.zeros(planes.shape, dtype=np.uint8)
    step = max(1, values.size // 262_144)
    lo, hi = (float(v) for v in np.percentile(values[::step], percentiles))
    if not hi > lo:
        hi = lo + 1e-6
    scaled = (np.nan_to_num(planes, nan=lo) - lo) * (255.0 / (hi - lo))
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def false_colour(cube: np.ndarray, bands: tuple[int, int, int]) -> np.ndarray:
    """H x W x 3 uint8 from three bands of a C x H x W cube."""
    return np.ascontiguousarray(stretch(cube[list(bands)].astype(np.float32)).transpose(1, 2, 0))


def band_image(cube: np.ndarray, index: int) -> np.ndarray:
    """One band as H x W uint8 grey (its own 1st-99th percentile stretch)."""
    return stretch(cube[index : index + 1].astype(np.float32))[0]


def display_scale(shape: tuple[int, int], size: int = DISPLAY_SIZE) -> int:
    """Integer enlargement that brings the long side near ``size`` (1 for large images)."""
    return max(1, math.floor(size / max(shape)))


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def blend_classes(
    rgb: np.ndarray, class_map: np.ndarray, colours: dict[int, str], opacity: float
) -> np.ndarray:
    """``rgb`` with the pixels of each class in ``colours`` blended with its colour."""
    out = rgb.astype(np.float32)
    lut = np.zeros((256, 3), dtype=np.float32)
    alpha = np.zeros(256, dtype=np.float32)
    for cid, colour in colours.items():
        lut[cid] = hex_to_rgb(colour)
        alpha[cid] = opacity
    a = alpha[class_map][..., None]
    out = out * (1 - a) + lut[class_map] * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def hatch(rgb: np.ndarray, mask: np.ndarray, period: int = HATCH_PERIOD) -> np.ndarray:
    """Thin white diagonal stripes (70 % opaque) over ``mask``, both at display resolution:
    visible, yet the class colours show between them."""
    h, w = mask.shape
    rows, cols = np.ogrid[:h, :w]
    lines = mask & (((rows + cols) % period) == 0)
    out = rgb.copy()
    white = np.asarray(HATCH_COLOUR, dtype=np.float32)
    out[lines] = (0.3 * rgb[lines] + 0.7 * white + 0.5).astype(np.uint8)
    return out


def shrink_step(shape: tuple[int, int], size: int = DISPLAY_SIZE) -> int:
    """Integer subsampling step that brings a large image's long side down to between ``size``
    and twice it (display only: the page shows no more pixels than that)."""
    return max(1, max(shape) // size)


def draw_contours(
    image: Image.Image, contours: Sequence[Sequence[tuple[float, float]]], factor: float
) -> Image.Image:
    """Closed polygons (``(row, col)`` pixel vertices) drawn on ``image`` (scaled by factor)."""
    draw = ImageDraw.Draw(image)
    width = max(2, round(factor))
    for points in contours:
        xy = [((c + 0.5) * factor, (r + 0.5) * factor) for r, c in points]
        if len(xy) < 2:
            continue
        draw.line(xy, fill=(0, 0, 0), width=width + 2, joint="curve")
        draw.line(xy, fill=hex_to_rgb(CONTOUR_COLOUR), width=width, joint="curve")
    return image


def score_picture(
    rgb: np.ndarray,
    class_map: np.ndarray | None,
    colours: dict[int, str],
    *,
    opacity: float,
    indeterminate: np.ndarray | None = None,
    contours: Sequence[Sequence[tuple[float, float]]] = (),
    size: int = DISPLAY_SIZE,
) -> Image.Image:
    """The false-colour capture with the class overlay, indeterminate hatching and contours:
    small captures enlarged, captures of at least twice ``size`` subsampled (display only)."""
    step = shrink_step(rgb.shape[:2], size)
    if step > 1:
        rgb = rgb[::step, ::step]
        class_map = None if class_map is None else class_map[::step, ::step]
        indeterminate = None if indeterminate is None else indeterminate[::step, ::step]
    factor = display_scale(rgb.shape[:2], size)
    base = rgb if class_map is None else blend_classes(rgb, class_map, colours, opacity)
    big = enlarge(base, factor)
    if indeterminate is not None and indeterminate.any():
        big = hatch(big, enlarge(indeterminate, factor))
    return draw_contours(Image.fromarray(big), contours, factor / step)


def legend_html(colours: dict[int, str], names: dict[int, str], *, contour: bool) -> str:
    """The legend: a swatch per class in its fixed colour, the non-healing contour (tasks that
    predict healing) and the hatching of indeterminate regions."""
    items = [
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{colours[c]};'
        f'border:1px solid #444;margin-right:0.3em;vertical-align:middle"></span>{names[c]}'
        for c in colours
    ]
    if contour:
        items.append(
            f'<span style="display:inline-block;width:1.4em;height:0;border-top:3px solid '
            f'{CONTOUR_COLOUR};margin-right:0.3em;vertical-align:middle"></span>'
            "unlikely to heal within 21 days (contour)"
        )
    items.append(
        '<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.3em;'
        "vertical-align:middle;border:1px solid #444;background:repeating-linear-gradient("
        '45deg,#fff 0 2px,#888 2px 6px)"></span>indeterminate (hatched)'
    )
    return " &nbsp; ".join(f'<span style="white-space:nowrap">{i}</span>' for i in items)


def to_png(image: Image.Image | np.ndarray) -> bytes:
    import io

    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
