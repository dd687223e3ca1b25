"""The embedded default store: objects in a folder, records in SQLite (``home/store.sqlite``)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wound.errors import RecordExistsError, StoreError
from wound.store.artifacts import PrimitiveStore
from wound.store.primitives import Item, ObjectStore, Position, RecordStore, Table

TEMP_PREFIX = ".tmp-"


#: Objects at least this large have their (clean, fsync'ed) pages dropped from the page cache.
DROP_CACHE_BYTES = 16 << 20


def _drop_cached_pages(fd: int) -> None:
    """Write-once large objects (capture cubes, ~42 MB for 1024 x 1280 x 8) need not stay in
    the page cache: dropping their pages lets the next large write reuse them instead of
    growing the cache, which on a fresh VM costs ~100 ms per 42 MB (first touch of guest
    memory) and elsewhere evicts hotter data. A hint only (Linux and most Unixes)."""
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


class FolderObjects(ObjectStore):
    """Objects as files under ``root`` (key ``a/b.png`` -> ``root/a/b.png``), written atomically
    (temporary file in the same folder, then ``os.replace`` or, for ``if_absent``, ``os.link``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if any(p in ("", ".", "..") or p.startswith(TEMP_PREFIX) for p in parts):
            raise StoreError(f"object key {key!r} is not a valid relative key")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes, *, if_absent: bool = False) -> bool:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                    if len(data) >= DROP_CACHE_BYTES:
                        _drop_cached_pages(f.fileno())
                if not if_absent:
                    os.replace(temp, path)
                    return True
                try:
                    os.link(temp, path)  # atomic create-if-absent
                except FileExistsError:
                    return False
                return True
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write object ({exc.strerror or exc})") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
        except OSError as exc:
            raise StoreError(f"{self._path(key)}: cannot read object ({exc})") from exc

    def head(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        # Walk only the prefix's folder (``captures/<id>/`` lists one capture, not the store).
        start = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        for folder, _, names in os.walk(start):
            base = Path(folder).relative_to(self.root)
            for name in names:
                if name.startswith(TEMP_PREFIX):
                    continue
                key = (base / name).as_posix()
                if key.startswith(prefix):
                    yield key

    def list_sizes(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        for key in self.list_keys(prefix):
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                yield key, self._path(key).stat().st_size

    def abandoned_writes(self, older_than_s: float) -> list[str]:
        """Temp files of writers killed mid-write (a live writer renames its file within
        seconds, so only files untouched for ``older_than_s`` are reported)."""
        cutoff = time.time() - older_than_s
        found = []
        for path in self.root.rglob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file() and path.stat().st_mtime <= cutoff:
                    found.append(path.relative_to(self.root).as_posix())
        return sorted(found)

    def discard_abandoned(self, name: str) -> None:
        path = self.root / name
        if not path.name.startswith(TEMP_PREFIX) or ".." in Path(name).parts:
            raise StoreError(f"{name!r} is not a partial write")
        path.unlink(missing_ok=True)


class SqliteRecords(RecordStore):
    """Records in one SQLite file (WAL mode): a table per record kind, an index per index.

    One connection shared by all threads behind a lock (SQLite serialises writers anyway);
    other processes share the file through WAL and the busy timeout.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            if not self.path.exists():
                raise StoreError(f"{self.path}: no store here; run `wound store init` first")
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[list[Any], int]:
        """Execute under the lock; the rows fetched and the count of rows changed."""
        with self._lock:
            try:
                cursor = self._db().execute(sql, params)
                return cursor.fetchall(), cursor.rowcount
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    def init(self, tables: tuple[Table, ...]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._connection is None:
                self._connection = self._connect()
            for table in tables:
                columns = ", ".join(f'"{name}" TEXT' for name in table.all_attributes)
                keys = ", ".join(f'"{name}"' for name in table.key_attributes)
                self._run(
                    f'CREATE TABLE IF NOT EXISTS "{table.name}" ({columns}, body TEXT NOT NULL,'
                    f" rev INTEGER NOT NULL, PRIMARY KEY ({keys}))"
                )
                for index in table.indexes:
                    self._run(
                        f'CREATE INDEX IF NOT EXISTS "{table.name}_{index.name}" ON '
                        f'"{table.name}" ("{index.hash}", "{index.range}")'
                    )

    @staticmethod
    def _where(names: tuple[str, ...]) -> str:
        return " AND ".join(f'"{name}" = ?' for name in names)

    def _select(self, table: Table) -> str:
        columns = ", ".join(f'"{name}"' for name in table.all_attributes)
        return f'SELECT {columns}, body, rev FROM "{table.name}"'

    @staticmethod
    def _item(table: Table, row: tuple[Any, ...]) -> Item:
        item: Item = dict(zip(table.all_attributes, row, strict=False))
        item["body"], item["rev"] = row[-2], int(row[-1])
        return item

    def put_if_absent(self, table: Table, item: Item) -> None:
        names = table.all_attributes
        values = (*(item.get(name) for name in names), item["body"], item["rev"])
        columns = ", ".join(f'"{name}"' for name in names)
        marks = ", ".join("?" for _ in values)
        try:
            self._run(f'INSERT INTO "{table.name}" ({columns}, body, rev) VALUES ({marks})', values)
        except sqlite3.IntegrityError as exc:
            raise RecordExistsError(f"{table.name} record {table.key_of(item)} exists") from exc

    def get(self, table: Table, key: dict[str, str]) -> Item | None:
        names = table.key_attributes
        rows, _ = self._run(
            f"{self._select(table)} WHERE {self._where(names)}", tuple(key[n] for n in names)
        )
        return self._item(table, rows[0]) if rows else None

    def replace(self, table: Table, item: Item, *, rev: int) -> bool:
        names = table.all_attributes
        keys = table.key_attributes
        assignments = ", ".join(f'"{name}" = ?' for name in names)
        params = (
            *(item.get(name) for name in names),
            item["body"],
            item["rev"],
            *(item[name] for name in keys),
            rev,
        )
        _, changed = self._run(
            f'UPDATE "{table.name}" SET {assignments}, body = ?, rev = ? '
            f"WHERE {self._where(keys)} AND rev = ?",
            params,
        )
        return changed == 1

    def delete(self, table: Table, key: dict[str, str]) -> None:
        names = table.key_attributes
        self._run(
            f'DELETE FROM "{table.name}" WHERE {self._where(names)}', tuple(key[n] for n in names)
        )

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
        hash_name, range_name = table.hash, table.range
        if index is not None:
            idx = table.index(index)
            hash_name, range_name = idx.hash, idx.range
        # Keyset pagination over (range, primary key): unique, so pages never overlap.
        order = tuple(dict.fromkeys([n for n in (range_name,) if n] + list(table.key_attributes)))
        sql = f'{self._select(table)} WHERE "{hash_name}" = ?'
        params: list[Any] = [hash_value]
        if range_prefix is not None and range_name is not None:
            sql += f' AND substr("{range_name}", 1, ?) = ?'
            params += [len(range_prefix), range_prefix]
        for name, value in (where or {}).items():
            sql += f' AND "{name}" = ?'
            params.append(value)
        if start is not None:
            columns = ", ".join(f'"{n}"' for n in order)
            marks = ", ".join("?" for _ in order)
            sql += f" AND ({columns}) {'<' if descending else '>'} ({marks})"
            params += [start.get(n) for n in order]
        direction = "DESC" if descending else "ASC"
        sql += " ORDER BY " + ", ".join(f'"{n}" {direction}' for n in order)
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit + 1)
        rows, _ = self._run(sql, tuple(params))
        items = [self._item(table, row) for row in rows]
        if limit is None or len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, {n: items[-1][n] for n in order}

    def scan(self, table: Table) -> Iterator[Item]:
        rows, _ = self._run(self._select(table))
        return iter([self._item(table, row) for row in rows])

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class LocalStore(PrimitiveStore):
    """The embedded store: ``home/objects/<key>`` and ``home/store.sqlite``."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        super().__init__(
            FolderObjects(self.home / "objects"), SqliteRecords(self.home / "store.sqlite")
        )

    def init(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        super().init()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.home)!r})"
