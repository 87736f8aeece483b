"""The embedded store: SQLite in WAL mode, one file, standard library only.

An ADD is answered only after its records are committed here, so a
``kill -9`` of the agent at any moment leaves either the whole record or
none. WAL with ``synchronous=NORMAL`` survives a process crash (what a
restarting DaemonSet pod meets); ``durable=True`` adds an fsync per commit
for power loss at a cost of milliseconds per ADD.

SQLite calls block, so they run on one worker thread that owns the
connection: the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from contivctl.errors import StoreError
from contivctl.kv.store import Commit

T = TypeVar("T")

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID"


class LocalStore:
    def __init__(self, path: str | Path, *, durable: bool = False) -> None:
        self.path = Path(path)
        self._durable = durable
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contiv-store")
        self._db: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, path: str | Path, *, durable: bool = False) -> LocalStore:
        store = cls(path, durable=durable)
        await store._run(store._open)
        return store

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={'FULL' if self._durable else 'NORMAL'}")
        db.execute(_SCHEMA)
        self._db = db

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        except sqlite3.Error as exc:
            raise StoreError(f"local store {self.path}: {exc}") from exc

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError(f"local store {self.path} is not open")
        return self._db

    async def get(self, key: str) -> bytes | None:
        def op() -> bytes | None:
            row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            return None if row is None else bytes(row[0])

        return await self._run(op)

    async def list(self, prefix: str) -> dict[str, bytes]:
        def op() -> dict[str, bytes]:
            # Range scan instead of LIKE: prefixes may contain % or _.
            upper = prefix + "\U0010ffff"
            rows = self._conn.execute(
                "SELECT key, value FROM kv WHERE key >= ? AND key < ? ORDER BY key", (prefix, upper)
            )
            return {k: bytes(v) for k, v in rows}

        return await self._run(op)

    async def put(self, key: str, value: bytes) -> None:
        await self.commit(Commit(puts={key: value}))

    async def delete(self, key: str) -> bool:
        def op() -> bool:
            cur = self._conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            return cur.rowcount > 0

        return await self._run(op)

    async def commit(self, commit: Commit) -> None:
        def op() -> None:
            db = self._conn
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", list(commit.puts.items()))
                db.executemany("DELETE FROM kv WHERE key = ?", [(k,) for k in commit.deletes])
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(op)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._pool, db.close)
        self._pool.shutdown(wait=True)
