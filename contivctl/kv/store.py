"""The key-value store interface the agent persists its state through.

Two implementations sit behind it: a local embedded store (the default for a
node that is alone) and etcd (a cluster). Callers write related keys in one
atomic ``commit`` so that a crash can never leave, say, a pod record without
the IP allocation it refers to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs


@attrs.frozen
class Commit:
    """Writes and deletes applied together or not at all."""

    puts: Mapping[str, bytes] = attrs.field(factory=dict)
    deletes: Sequence[str] = ()


class KVStore(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def list(self, prefix: str) -> dict[str, bytes]: ...

    async def put(self, key: str, value: bytes) -> None: ...

    async def delete(self, key: str) -> bool: ...

    async def commit(self, commit: Commit) -> None: ...

    async def close(self) -> None: ...
