"""Label taxonomy shared by store, Label Studio, training and dashboard: the one source of class
ids, names and colours (:mod:`wound.tasks` builds each task's classes from it)."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class DepthClass(IntEnum):
    """Burn depth classes with fixed ids."""

    BACKGROUND = 0
    HEALTHY = 1
    SUPERFICIAL = 2
    SUPERFICIAL_PARTIAL = 3
    DEEP_PARTIAL = 4
    FULL_THICKNESS = 5


DEPTH_NAMES: dict[int, str] = {
    0: "background",
    1: "healthy skin",
    2: "superficial (epidermal)",
    3: "superficial partial thickness",
    4: "deep partial thickness",
    5: "full thickness",
}

DEPTH_COLOURS: dict[int, str] = {
    0: "#000000",
    1: "#f2c9a0",
    2: "#ffe066",
    3: "#ff9f1c",
    4: "#e63946",
    5: "#5a189a",
}

#: Classes that are burn wound (everything but background and healthy skin).
WOUND_CLASSES: tuple[int, ...] = (2, 3, 4, 5)
#: Deep burn: the tissue unlikely to heal within 21 days with conservative care.
DEEP_CLASSES: tuple[int, ...] = (4, 5)
#: Skin: every class but background.
SKIN_CLASSES: tuple[int, ...] = (1, 2, 3, 4, 5)

WOUND_MASK_NAMES: dict[int, str] = {0: "background", 1: "wound"}
WOUND_MASK_COLOURS: dict[int, str] = {0: "#000000", 1: "#e63946"}


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> (r, g, b)."""
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def healing_from_depth(depth: np.ndarray) -> np.ndarray:
    """Healing derived from depth: skin outside the deep classes heals within 21 days (0/1)."""
    depth = np.asarray(depth)
    heals = (depth != DepthClass.BACKGROUND) & ~np.isin(depth, DEEP_CLASSES)
    return heals.astype(np.uint8)
