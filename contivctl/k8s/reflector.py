"""A list + watch reflector: a local copy of one kind of Kubernetes object, kept current.

It lists, then watches from the list's resourceVersion, and calls
``on_change(key, old, new)`` for each difference (``new`` None: deleted).
A watch that expires (410 Gone) is answered with a fresh list — the
client's own 410 retry would reuse the stale version — and the difference
between the cache and the new list is reported as changes. Every other
failure (API server gone, refused, timed out) is retried with backoff,
forever: the agent's other work never waits on the API server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.watch import Watch

log = logging.getLogger(__name__)

Obj = dict[str, Any]
OnChange = Callable[[str, Obj | None, Obj | None], Awaitable[None]]
#: seconds a watch request lasts before it is renewed (the server ends it)
WATCH_TIMEOUT = 300
GONE = 410


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name', '')}" if ns else str(meta.get("name", ""))


class Reflector:
    def __init__(
        self,
        name: str,
        list_fn: Callable[..., Awaitable[Any]],
        on_change: OnChange,
        *,
        kwargs: Mapping[str, Any] | None = None,
        backoff: tuple[float, float] = (0.2, 10.0),
        watch_timeout: int = WATCH_TIMEOUT,
    ) -> None:
        self.name = name
        self._list_fn = list_fn
        self._on_change = on_change
        self._kwargs = dict(kwargs or {})
        self._backoff = backoff
        self._watch_timeout = watch_timeout
        self.cache: dict[str, Obj] = {}
        #: set after the first successful list
        self.synced = asyncio.Event()
        #: how many lists were made (the first one included)
        self.lists = 0
        #: the last error, for readiness/debugging ("" while healthy)
        self.last_error = ""

    async def run(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                version = await self._list()
                delay = self._backoff[0]
                self.last_error = ""
                await self._watch(version)
            except ApiException as exc:
                if exc.status == GONE:
                    log.info("%s: watch expired (410), listing again", self.name)
                    continue
                self.last_error = f"API error {exc.status}: {exc.reason}"
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s; retrying in %.1fs", self.name, self.last_error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _list(self) -> str:
        resp = await self._list_fn(**self._kwargs, _preload_content=False)
        try:
            if not 200 <= resp.status <= 299:
                raise ApiException(status=resp.status, reason=resp.reason)
            data = json.loads(await resp.read())
        finally:
            resp.release()
        self.lists += 1
        fresh = {object_key(o): o for o in data.get("items") or []}
        for key in [k for k in self.cache if k not in fresh]:
            await self._emit(key, self.cache.pop(key), None)
        for key, obj in fresh.items():
            before = self.cache.get(key)
            self.cache[key] = obj
            if before != obj:
                await self._emit(key, before, obj)
        self.synced.set()
        return str((data.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, version: str) -> None:
        while True:
            kwargs: dict[str, Any] = dict(self._kwargs, timeout_seconds=self._watch_timeout)
            if version:
                kwargs["resource_version"] = version
            async with Watch(return_type="object") as watch:
                async for event in watch.stream(self._list_fn, **kwargs):
                    version = self._on_event(event, version)
                    await self._deliver(event)
            # The server ended the watch (its timeout): go on from where we are.

    def _on_event(self, event: Mapping[str, Any], version: str) -> str:
        obj = event.get("raw_object") or {}
        return str((obj.get("metadata") or {}).get("resourceVersion") or version)

    async def _deliver(self, event: Mapping[str, Any]) -> None:
        kind = str(event.get("type", "")).upper()
        obj: Obj = event.get("raw_object") or {}
        key = object_key(obj)
        if kind in ("ADDED", "MODIFIED"):
            old = self.cache.get(key)
            self.cache[key] = obj
            if old != obj:
                await self._emit(key, old, obj)
        elif kind == "DELETED":
            old = self.cache.pop(key, None)
            if old is not None:
                await self._emit(key, old, None)

    async def _emit(self, key: str, old: Obj | None, new: Obj | None) -> None:
        try:
            await self._on_change(key, old, new)
        except Exception:  # a consumer's bug must not stop the reflector
            log.exception("%s: handling the change of %s failed", self.name, key)
