"""The embedded store: atomic commits, prefix listing, survival of a killed process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contivctl.errors import StoreError
from contivctl.kv.local import LocalStore
from contivctl.kv.store import Commit


async def test_put_get_list_delete(tmp_path: Path) -> None:
    store = await LocalStore.open(tmp_path / "s.db")
    try:
        await store.put("/pods/a", b"1")
        await store.put("/pods/b", b"2")
        await store.put("/pods_x/c", b"3")
        await store.put("/ipam%/d", b"4")
        assert await store.get("/pods/a") == b"1"
        assert await store.get("/nope") is None
        assert await store.list("/pods/") == {"/pods/a": b"1", "/pods/b": b"2"}
        assert await store.list("/ipam%/") == {"/ipam%/d": b"4"}
        assert await store.delete("/pods/a") is True
        assert await store.delete("/pods/a") is False
        assert await store.list("/pods/") == {"/pods/b": b"2"}
    finally:
        await store.close()


async def test_commit_is_all_or_nothing(tmp_path: Path) -> None:
    store = await LocalStore.open(tmp_path / "s.db")
    try:
        await store.commit(Commit(puts={"a": b"1", "b": b"2"}))
        await store.commit(Commit(puts={"c": b"3"}, deletes=["a"]))
        assert await store.list("") == {"b": b"2", "c": b"3"}
        bad = Commit(puts={"d": b"4", "e": None})  # type: ignore[dict-item]
        with pytest.raises(StoreError, match="NOT NULL"):
            await store.commit(bad)
        assert await store.get("d") is None
    finally:
        await store.close()


def test_committed_data_survives_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from contivctl.kv.local import LocalStore
        from contivctl.kv.store import Commit

        async def main():
            store = await LocalStore.open({str(db)!r})
            for i in range(50):
                await store.commit(Commit(puts={{f"/k/{{i:03d}}": b"v"}}))
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    res = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], timeout=60)
    assert res.returncode == -9

    async def check() -> dict[str, bytes]:
        store = await LocalStore.open(db)
        try:
            return await store.list("/k/")
        finally:
            await store.close()

    import asyncio

    assert len(asyncio.run(check())) == 50
