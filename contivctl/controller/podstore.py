"""Persisting attachments and their IP allocations, one atomic commit per change.

Records sit under ``/contiv/<node>/pods/<cid>/<ifname>`` and IPAM entries
under ``/contiv/<node>/ipam/<cid>/<ifname>``; both are written (or removed)
in one commit, so a crash never leaves an attachment without its address
or an address reserved for nobody.
"""

from __future__ import annotations

import json

from contivctl.kv.store import Commit, KVStore
from contivctl.model import Attachment, AttachmentKey


class PodStore:
    def __init__(self, store: KVStore, node_name: str) -> None:
        self._store = store
        self._pods = f"/contiv/{node_name}/pods/"
        self._ipam = f"/contiv/{node_name}/ipam/"

    async def load(self) -> list[Attachment]:
        records = await self._store.list(self._pods)
        return [Attachment.from_data(json.loads(raw)) for raw in records.values()]

    async def load_ipam(self) -> dict[str, str]:
        entries = await self._store.list(self._ipam)
        return {key[len(self._ipam) :]: json.loads(raw)["ip"] for key, raw in entries.items()}

    async def save(self, att: Attachment) -> None:
        key = str(att.key)
        await self._store.commit(
            Commit(
                puts={
                    self._pods + key: json.dumps(att.to_data()).encode(),
                    self._ipam + key: json.dumps({"ip": str(att.ip), "pod": key}).encode(),
                }
            )
        )

    async def remove(self, key: AttachmentKey) -> None:
        await self._store.commit(Commit(deletes=[self._pods + str(key), self._ipam + str(key)]))
