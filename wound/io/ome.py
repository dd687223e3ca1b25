"""What OME-XML says about a capture: channel wavelengths, pixel size, acquisition time."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

NAME_NM = re.compile(r"(\d+(?:\.\d+)?)\s*nm\b", re.IGNORECASE)
_TO_NM = {"nm": 1.0, "µm": 1e3, "um": 1e3, "pm": 1e-3, "Å": 0.1}
_TO_MM = {"mm": 1.0, "µm": 1e-3, "um": 1e-3, "nm": 1e-6, "cm": 10.0, "m": 1e3}


@dataclass(frozen=True)
class OmeInfo:
    """Fields of the first OME Image; None where the XML does not say."""

    wavelengths: tuple[float, ...] | None = None
    spacing_mm: float | None = None
    acquired: datetime | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _channel_nm(channel: ET.Element) -> float | None:
    """EmissionWavelength (with its unit, nm by default), else a Name such as "660nm"."""
    value = channel.get("EmissionWavelength")
    if value is not None:
        scale = _TO_NM.get(channel.get("EmissionWavelengthUnit", "nm"))
        try:
            if scale is not None:
                return float(value) * scale
        except ValueError:
            pass
    match = NAME_NM.search(channel.get("Name", ""))
    return float(match.group(1)) if match else None


def _spacing_mm(pixels: ET.Element) -> float | None:
    size = pixels.get("PhysicalSizeX")
    scale = _TO_MM.get(pixels.get("PhysicalSizeXUnit", "µm"))
    if size is None or scale is None:
        return None
    try:
        mm = float(size) * scale
    except ValueError:
        return None
    return mm if 0 < mm < 100 else None


def _acquired(image: ET.Element) -> datetime | None:
    for child in image:
        if _local(child.tag) == "AcquisitionDate" and child.text:
            try:
                when = datetime.fromisoformat(child.text.strip().replace("Z", "+00:00"))
            except ValueError:
                return None
            # OME: naive = UTC. Out-of-range years are refused by CaptureMetadata, by name.
            return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


def parse_ome(xml: str) -> OmeInfo:
    """Parse OME-XML (raises ``ET.ParseError`` on malformed XML)."""
    root = ET.fromstring(xml)
    image = next((e for e in root if _local(e.tag) == "Image"), None)
    if image is None:
        return OmeInfo()
    pixels = next((e for e in image if _local(e.tag) == "Pixels"), None)
    if pixels is None:
        return OmeInfo(acquired=_acquired(image))
    channels = [e for e in pixels if _local(e.tag) == "Channel"]
    nms = [_channel_nm(c) for c in channels]
    wavelengths = tuple(n for n in nms if n is not None) if nms and None not in nms else None
    return OmeInfo(
        wavelengths=wavelengths, spacing_mm=_spacing_mm(pixels), acquired=_acquired(image)
    )
