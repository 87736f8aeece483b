"""A list + watch reflector: a local copy of one kind of Kubernetes object, kept current.

It lists, then watches from the list's resourceVersion, and calls
``on_change(key, old, new)`` for each difference (``new`` None: deleted).
Every other failure (API server gone, refused, timed out, a watch cut
off) is retried with backoff, forever, and the watch resumes from the last
resourceVersion it saw: the API server replays what happened meanwhile, so
an outage costs no list of every object (a thousand agents relisting at
once is what brings an API server back down). Only when that version has
expired (410 Gone) does the reflector list again — the client's own 410
retry would reuse the stale version — and the difference between the cache
and the new list is reported as changes. The agent's other work never
waits on the API server.
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
        #: the resourceVersion the cache is current to ("" before the first list, or after a 410)
        self.version = ""
        #: whether a watch is open now: the cache follows the API server (not an outage's stale copy)
        self.watching = False
        self._delay = backoff[0]

    async def run(self) -> None:
        while True:
            try:
                if not self.version:
                    self.version = await self._list()
                    self._healthy()
                await self._watch()
            except ApiException as exc:
                self.watching = False
                if exc.status == GONE:
                    log.info("%s: watch of version %s expired (410), listing again", self.name, self.version)
                    self.version = ""
                    continue
                self.last_error = f"API error {exc.status}: {exc.reason}"
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError) as exc:
                self.watching = False
                self.last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # the client's own (a watch line it cannot read): never stop following
                self.watching = False
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: the watch failed unexpectedly", self.name)
            if not self.version or self.version == "0":
                self.version = ""  # nothing to resume from: list again
            log.warning("%s: %s; retrying in %.1fs", self.name, self.last_error, self._delay)
            await asyncio.sleep(self._delay)
            self._delay = min(self._delay * 2, self._backoff[1])

    def _healthy(self) -> None:
        self._delay = self._backoff[0]
        self.last_error = ""

    async def fetch(self) -> list[Obj]:
        """The objects as the API server has them now, by a list of their own (the cache is not touched)."""
        data = await self._fetch()
        return list(data.get("items") or [])

    async def _fetch(self) -> dict[str, Any]:
        resp = await self._list_fn(**self._kwargs, _preload_content=False)
        try:
            if not 200 <= resp.status <= 299:
                raise ApiException(status=resp.status, reason=resp.reason)
            data = json.loads(await resp.read())
        finally:
            resp.release()
        if not isinstance(data, dict):
            raise ValueError(f"a list of {self.name} is not a JSON object")
        return data

    async def _list(self) -> str:
        data = await self._fetch()
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

    async def _watch(self) -> None:
        while True:
            kwargs: dict[str, Any] = dict(self._kwargs, timeout_seconds=self._watch_timeout)
            if self.version:
                kwargs["resource_version"] = self.version
            async with Watch(return_type="object") as watch:
                async for event in watch.stream(self._opening, **kwargs):
                    self.version = self._on_event(event, self.version)
                    await self._deliver(event)
            # The server ended the watch (its timeout): go on from where we are.

    async def _opening(self, **kwargs: Any) -> Any:
        """The watch request; once the server has answered it, the API server is back."""
        resp = await self._list_fn(**kwargs)
        self.watching = True
        self._healthy()
        return resp

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
