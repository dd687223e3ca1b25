"""The two small primitives every backend provides: an object store and a record store.

The capture-store semantics (:mod:`wound.store.core`) are written once over these; a backend is
a pair of thin primitives (folder + SQLite, S3 + DynamoDB).

Records are flat items: string attributes named by a :class:`Table` schema (keys and index
attributes), plus ``body`` (the record as JSON) and ``rev`` (an integer revision used for
optimistic, conditional updates). How an item is encoded (SQL columns, DynamoDB attribute values)
is the backend's business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: An item: schema attributes (str or None), ``body`` (str) and ``rev`` (int).
Item = dict[str, Any]
#: A position in a query: the last item's key and index attributes (strings).
Position = dict[str, str]


@dataclass(frozen=True)
class Index:
    """A secondary index: items with ``hash`` equal to a value, ordered by ``range``."""

    name: str
    hash: str
    range: str


@dataclass(frozen=True)
class Table:
    """A record kind: primary key (``hash`` [+ ``range``]), extra attributes and indexes."""

    name: str
    hash: str
    range: str | None = None
    attributes: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()

    @property
    def key_attributes(self) -> tuple[str, ...]:
        return (self.hash,) if self.range is None else (self.hash, self.range)

    @property
    def all_attributes(self) -> tuple[str, ...]:
        """Every string attribute, keys first, without duplicates."""
        seen: dict[str, None] = dict.fromkeys(self.key_attributes)
        for name in self.attributes:
            seen.setdefault(name)
        for index in self.indexes:
            seen.setdefault(index.hash)
            seen.setdefault(index.range)
        return tuple(seen)

    def index(self, name: str) -> Index:
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(f"table {self.name} has no index {name}")

    def key_of(self, item: Item) -> dict[str, str]:
        return {name: item[name] for name in self.key_attributes}


class ObjectStore(ABC):
    """Bytes under string keys (``a/b/c.ext``)."""

    @abstractmethod
    def init(self) -> None:
        """Create the container (idempotent)."""

    @abstractmethod
    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        """Write ``data`` atomically; with ``if_absent`` only when no object is there.

        Returns False when ``if_absent`` found an object already there, else True.
        """

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when it does not exist."""

    @abstractmethod
    def head(self, key: str) -> int | None:
        """The object's size in bytes, or None when it does not exist."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone)."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix`` (any order)."""

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Every key starting with ``prefix`` with its size in bytes (backends override this
        with their listing's own sizes; the default asks for each)."""
        for key in self.list_keys(prefix):
            size = self.head(key)
            if size is not None:
                yield key, size

    def abandoned_writes(self, older_than_s: float) -> list[str]:
        """Partial writes a killed writer left behind, untouched for ``older_than_s`` seconds
        (paths relative to the store; none by default: S3 writes are atomic)."""
        return []

    def discard_abandoned(self, name: str) -> None:  # noqa: B027 - optional hook
        """Remove one of :meth:`abandoned_writes` (nothing by default)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing by default)."""


class RecordStore(ABC):
    """Items in tables, with conditional writes and ordered index queries."""

    @abstractmethod
    def init(self, tables: tuple[Table, ...]) -> None:
        """Create the tables and their indexes (idempotent)."""

    @abstractmethod
    def put_if_absent(self, table: Table, item: Item) -> None:
        """Create the item; :class:`wound.errors.RecordExistsError` if its key is taken."""

    @abstractmethod
    def get(self, table: Table, key: dict[str, str]) -> Item | None: ...

    @abstractmethod
    def replace(self, table: Table, item: Item, *, rev: int) -> bool:
        """Overwrite the item only if the stored one has revision ``rev``; False otherwise."""

    @abstractmethod
    def delete(self, table: Table, key: dict[str, str]) -> None: ...

    @abstractmethod
    def query(
        self,
        table: Table,
        hash_value: str,
        *,
        index: str | None = None,
        range_prefix: str | None = None,
        where: dict[str, str] | None = None,
        descending: bool = False,
        limit: int | None = None,
        start: Position | None = None,
    ) -> tuple[list[Item], Position | None]:
        """Items whose (index) hash attribute equals ``hash_value``, ordered by its range
        (and, when ``where`` is given, whose attributes equal those values).

        Returns at most ``limit`` items (all when None) and the position to continue from
        (None when the query is known to be exhausted).
        """

    @abstractmethod
    def scan(self, table: Table) -> Iterator[Item]:
        """Every item of the table (any order)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (nothing by default)."""
