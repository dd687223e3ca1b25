"""Filtered pages of captures through the store's cursor (a store of thousands stays responsive).

Subject, wound and label status are the store's own indexes (``list_captures``); wound type,
date range and quality verdict are checked on each record read. A page reads store pages of
``size`` records until ``size`` captures matched, the store ran out, or ``max_reads`` reads were
made; the cursor it returns resumes right after the last record read, so no capture is skipped
or shown twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from wound.store.base import CaptureStore
from wound.store.records import CaptureRecord, LabelStatus

QualityFilter = Literal["ok", "refused", "not checked"]


@dataclass(frozen=True)
class Filters:
    """What the Captures page filters by (None: any)."""

    subject: str | None = None
    wound_id: str | None = None
    wound_type: str | None = None
    label_status: LabelStatus | None = None
    quality: QualityFilter | None = None
    start: date | None = None
    end: date | None = None

    def store_filters(self) -> dict[str, Any]:
        """The part the store's indexes answer."""
        out: dict[str, Any] = {}
        if self.subject:
            out["subject"] = self.subject
            if self.wound_id:
                out["wound_id"] = self.wound_id
        if self.label_status:
            out["label_status"] = self.label_status
        return out

    def matches(self, record: CaptureRecord) -> bool:
        """The part checked on each record."""
        if self.wound_type and record.wound_type != self.wound_type:
            return False
        day = record.captured_at.date()
        if self.start and day < self.start:
            return False
        if self.end and day > self.end:
            return False
        return self.quality is None or quality_of(record) == self.quality


def quality_of(record: CaptureRecord) -> QualityFilter:
    if record.quality is None:
        return "not checked"
    return "ok" if record.quality.get("ok") else "refused"


@dataclass(frozen=True)
class FilteredPage:
    items: list[CaptureRecord]
    cursor: str | None  # None: no more captures
    scanned: int  # records read to fill this page


def fetch_page(
    store: CaptureStore,
    filters: Filters,
    *,
    cursor: str | None = None,
    size: int = 24,
    max_reads: int = 20,
) -> FilteredPage:
    """One page of matching captures, oldest first (see the module docstring)."""
    items: list[CaptureRecord] = []
    scanned = 0
    for _ in range(max_reads):
        page = store.list_captures(**filters.store_filters(), limit=size, cursor=cursor)
        scanned += len(page.items)
        items += [r for r in page.items if filters.matches(r)]
        cursor = page.cursor
        if cursor is None or len(items) >= size:
            break
    return FilteredPage(items, cursor, scanned)
