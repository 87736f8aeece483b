"""One long-lived connection to VPP's binary-API socket.

What the rest of the agent may rely on:

- Every call has a deadline (`timeout`); a reply that never comes is a
  `VPPTimeout`, never a hang. A lost connection fails every call in flight
  with `VPPConnectionError` at once. Both are retriable.
- A non-zero `retval` is a `VPPApiError` naming the message and VPP's name
  for the value.
- After `start()`, a lost connection is re-established in the background
  with exponential backoff. Each time it comes back the owner's
  `on_reconnect` callback gets a `Reconnected` event saying whether VPP
  restarted (its pid changed, or the interfaces the agent had tagged are
  gone): a restarted VPP has forgotten everything, so the owner must run a
  full resync. The check of the API (`apidefs`) runs on every connect.
- Many requests can be in flight at once (`call_many`, `dump_many`, or
  plain `asyncio.gather` over `call`); replies are matched by context.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from contivctl.dataplane.vpp import apidefs
from contivctl.dataplane.vpp.client import PapiClient
from contivctl.dataplane.vpp.retvals import Retval, retval_name
from contivctl.errors import VPPApiError, VPPConnectionError, VPPError, VPPIncompatible, VPPTimeout

log = logging.getLogger(__name__)

DEFAULT_SOCKET = "/run/vpp/api.sock"

#: interfaces the agent creates carry this tag prefix; it is how ownership survives agent restarts
TAG_PREFIX = "contiv:"

Request = tuple[str, Mapping[str, Any]]


@attrs.frozen
class Backoff:
    """Delays between reconnect attempts: `initial`, times `factor` per failure, at most `maximum`."""

    initial: float = 0.05
    factor: float = 2.0
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.initial * self.factor ** min(attempt, 32), self.maximum))


@attrs.frozen
class VPPInfo:
    """What the driver learnt about the VPP it is connected to."""

    version: str
    pid: int
    #: interfaces tagged by the agent at connect time
    agent_interfaces: int


@attrs.frozen
class Reconnected:
    """The connection came back after a loss; `restarted` means VPP lost all configuration."""

    restarted: bool
    reason: str
    info: VPPInfo


def _is_read(name: str) -> bool:
    """Requests that only read VPP's state (over-counting writes is harmless, missing one is not)."""
    return name.endswith(("_dump", "_get")) or "_get_" in name or name in ("show_version", "control_ping")


class RequestObserver(Protocol):
    """Who is told how VPP answers (the agent's metrics); each call must return at once."""

    def request(self, name: str, seconds: float, count: int) -> None:
        """``count`` requests named after ``name`` (a pipelined group) were answered in ``seconds``."""

    def failed(self, name: str, error: str) -> None:
        """A request failed: ``error`` is VPP's retval name, or "timeout" or "connection"."""


class VPPConnection:
    def __init__(
        self,
        socket_path: str = DEFAULT_SOCKET,
        *,
        api_dir: str = apidefs.DEFAULT_API_DIR,
        client_name: str = "contivctl",
        timeout: float = 5.0,
        backoff: Backoff | None = None,
        on_reconnect: Callable[[Reconnected], None] | None = None,
    ) -> None:
        self.socket_path = socket_path
        self.api_dir = api_dir
        self.client_name = client_name
        self.timeout = timeout
        self.backoff = backoff or Backoff()
        self.on_reconnect = on_reconnect
        self.info: VPPInfo | None = None
        self._defs: apidefs.ApiDefinitions | None = None
        self._client: PapiClient | None = None
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._listeners: list[Callable[[str, Any], None]] = []
        self._lost = asyncio.Event()
        self._up = asyncio.Event()
        self._closed = False
        self._supervisor: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._agent_interfaces_seen = False
        #: increments on every successful connect
        self.epoch = 0
        #: increments on the first connect and whenever VPP is found restarted: one value per VPP lifetime
        self.lifetime = 0
        #: increments with every request that may change VPP (anything but a dump or a query),
        #: so a reader can tell whether what it read a moment ago is still current
        self.writes = 0
        #: told of every request's time and of every failure (metrics); must not block
        self.observer: RequestObserver | None = None

    # -- lifecycle ------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.lost is None

    async def connect(self) -> VPPInfo:
        """Connect once and check the API; raises VPPIncompatible or VPPConnectionError."""
        if self._defs is None:
            defs = await asyncio.to_thread(apidefs.load, self.api_dir)
            apidefs.check_definitions(defs)
            self._defs = defs
        client = PapiClient(self.socket_path, self._defs, self._connection_lost)
        try:
            rc = await asyncio.wait_for(client.connect(self.client_name, self._events), self.timeout)
        except TimeoutError as exc:
            client.abort()
            raise VPPConnectionError(f"VPP at {self.socket_path} did not complete the handshake") from exc
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            client.abort()
            raise VPPConnectionError(f"cannot connect to VPP at {self.socket_path}: {exc}") from exc
        if rc != 0:
            client.abort()
            raise VPPConnectionError(f"cannot connect to VPP at {self.socket_path}: no socket or no permission")
        self._client = client
        try:
            info = await self._handshake(client)
        except BaseException:
            self._client = None
            client.abort()
            raise
        self.info = info
        self.epoch += 1
        if self.lifetime == 0:
            self.lifetime = 1
        self._lost.clear()
        self._up.set()
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch_events())
        return info

    async def _handshake(self, client: PapiClient) -> VPPInfo:
        version = "unknown"
        if client.function("show_version") is not None:
            with contextlib.suppress(VPPError):
                version = str((await self.call("show_version")).version)
        apidefs.check_message_table(client.message_table, version)
        ping = await self.call("control_ping")
        ifaces = await self.dump("sw_interface_dump")
        tagged = sum(1 for d in ifaces if str(d.tag).startswith(TAG_PREFIX))
        return VPPInfo(version, int(ping.vpe_pid), tagged)

    async def start(self, *, wait: float | None = None) -> VPPInfo:
        """Connect (retrying with backoff for up to `wait` seconds, None: forever), then keep connected.

        VPPIncompatible is raised at once: retrying cannot fix it.
        """
        loop = asyncio.get_running_loop()
        deadline = None if wait is None else loop.time() + wait
        attempt = 0
        while True:
            try:
                info = await self.connect()
                break
            except VPPConnectionError as exc:
                delay = self.backoff.delay(attempt)
                attempt += 1
                if deadline is not None and loop.time() + delay > deadline:
                    raise
                log.info("VPP not reachable (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
        self._agent_interfaces_seen = info.agent_interfaces > 0
        self._supervisor = loop.create_task(self._supervise())
        return info

    async def close(self) -> None:
        """Say goodbye to VPP (sockclnt_delete, bounded by the timeout) and stop all tasks."""
        self._closed = True
        for task in (self._supervisor, self._dispatcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._supervisor = self._dispatcher = None
        client, self._client = self._client, None
        self._up.clear()
        if client is None:
            return
        if client.lost is None:
            fn = client.function("sockclnt_delete")
            if fn is not None:
                with contextlib.suppress(TimeoutError, VPPError, ConnectionError, OSError):
                    await asyncio.wait_for(fn(index=client.socket_index), self.timeout)
        client.abort()
        writer = client.writer
        if writer is not None:
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def wait_connected(self, timeout: float | None = None) -> None:
        await asyncio.wait_for(self._up.wait(), timeout)

    def _connection_lost(self, exc: BaseException) -> None:
        if self._closed:
            return
        log.warning("connection to VPP lost: %r", exc)
        self._up.clear()
        self._lost.set()

    async def _supervise(self) -> None:
        while not self._closed:
            await self._lost.wait()
            old = self.info
            old_client, self._client = self._client, None
            if old_client is not None:
                old_client.abort()
            attempt = 0
            while not self._closed:
                try:
                    info = await self.connect()
                    break
                except VPPIncompatible:
                    log.exception("VPP came back with an incompatible API; not reconnecting")
                    return
                except VPPError as exc:
                    delay = self.backoff.delay(attempt)
                    attempt += 1
                    log.info("reconnect to VPP failed (%s); next attempt in %.2fs", exc, delay)
                    await asyncio.sleep(delay)
            else:
                return
            event = self._judge(old, info)
            if event.restarted:
                self.lifetime += 1
            self._agent_interfaces_seen = info.agent_interfaces > 0
            log.warning("reconnected to VPP: %s", event.reason)
            if self.on_reconnect is not None:
                self.on_reconnect(event)

    def _judge(self, old: VPPInfo | None, new: VPPInfo) -> Reconnected:
        if old is not None and old.pid != new.pid:
            return Reconnected(True, f"VPP pid changed from {old.pid} to {new.pid}", new)
        if self._agent_interfaces_seen and new.agent_interfaces == 0:
            return Reconnected(True, "the interfaces the agent created are gone", new)
        return Reconnected(False, "connection restored; VPP kept its state", new)

    # -- events ---------------------------------------------------------------

    def add_event_listener(self, fn: Callable[[str, Any], None]) -> None:
        """Call `fn(message_name, message)` for every event VPP pushes (DHCP leases, interface events)."""
        self._listeners.append(fn)

    async def _dispatch_events(self) -> None:
        while True:
            item = await self._events.get()
            name = type(item).__name__
            for fn in list(self._listeners):
                try:
                    fn(name, item)
                except Exception:
                    log.exception("event listener failed on %s", name)

    # -- calls ----------------------------------------------------------------

    def _client_for(self, names: Iterable[str]) -> PapiClient:
        """The connected client, if it knows every message of ``names`` (the first one names the request)."""
        names = list(names)
        client = self._client
        if client is None or client.lost is not None:
            raise VPPConnectionError(f"not connected to VPP (at {self.socket_path}); {names[0]} not sent")
        missing = sorted({n for n in names if client.function(n) is None})
        if missing:
            raise VPPIncompatible(self.info.version if self.info else "unknown", missing=missing)
        return client

    def _submit(self, name: str, fields: Mapping[str, Any]) -> tuple[PapiClient, int, asyncio.Future[Any]]:
        client = self._client_for([name])
        if not _is_read(name):
            self.writes += 1
        context, fut = client.send(name, fields)
        return client, context, fut

    async def _wait(
        self, name: str, pending: Sequence[tuple[PapiClient, int, asyncio.Future[Any]]], timeout: float
    ) -> list[Any]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                if len(pending) == 1:
                    replies = [await pending[0][2]]
                else:
                    replies = list(await asyncio.gather(*(f for _, _, f in pending)))
            if self.observer is not None:
                self.observer.request(name, time.perf_counter() - started, len(pending))
            return replies
        except TimeoutError:
            for client, context, fut in pending:
                client.requests.pop(context, None)
                fut.cancel()
            if self.observer is not None:
                self.observer.failed(name, "timeout")
            raise VPPTimeout(name, timeout) from None
        except VPPConnectionError:
            if self.observer is not None:
                self.observer.failed(name, "connection")
            raise
        except BaseException:
            for _, _, fut in pending:
                if not fut.done():
                    fut.cancel()
                elif not fut.cancelled():
                    fut.exception()  # consumed: the first error is the one raised
            raise

    def _check(self, name: str, reply: Any) -> Any:
        rv = int(getattr(reply, "retval", 0))
        if rv != 0:
            if self.observer is not None:
                self.observer.failed(name, retval_name(rv) or str(rv))
            raise VPPApiError(name, rv, retval_name(rv))
        if name == "sw_interface_tag_add_del":
            self._agent_interfaces_seen = True
        return reply

    async def call(self, name: str, /, *, check: bool = True, **fields: Any) -> Any:
        """Send one request and return its reply; a non-zero retval raises VPPApiError when `check`."""
        (reply,) = await self._wait(name, [self._submit(name, fields)], self.timeout)
        return self._check(name, reply) if check else reply

    async def dump(self, name: str, /, **fields: Any) -> list[Any]:
        """An old-style dump: the details messages, in VPP's order."""
        ((_ping, details),) = await self._wait(name, [self._submit(name, fields)], self.timeout)
        return list(details)

    async def stream(self, name: str, /, **fields: Any) -> list[Any]:
        """A cursor stream (`*_get` with `stream_msg`): all details, following EAGAIN cursors."""
        out: list[Any] = []
        cursor = 0
        while True:
            ((reply, details),) = await self._wait(
                name, [self._submit(name, dict(fields, cursor=cursor))], self.timeout
            )
            out.extend(details)
            if int(reply.retval) != Retval.EAGAIN:
                self._check(name, reply)
                return out
            cursor = int(reply.cursor)

    def _batch_timeout(self, n: int) -> float:
        return self.timeout + math.ceil(n / 1000) * self.timeout / 5

    async def call_many(self, requests: Iterable[Request], *, check: bool = True) -> list[Any]:
        """Pipeline requests (all sent before any reply is awaited); replies in request order.

        With `check`, the first non-zero retval raises after every reply arrived,
        so nothing is left in flight.
        """
        reqs = list(requests)
        if not reqs:
            return []
        pending = [self._submit(n, f) for n, f in reqs]
        replies = await self._wait(reqs[0][0], pending, self._batch_timeout(len(reqs)))
        if check:
            for (n, _), r in zip(reqs, replies, strict=True):
                self._check(n, r)
        return replies

    async def dump_many(self, requests: Iterable[Request]) -> list[list[Any]]:
        """Pipelined old-style dumps, ended by one control ping; one list of details per request."""
        reqs = list(requests)
        if not reqs:
            return []
        client = self._client_for(n for n, _ in reqs)
        contexts, done = client.dump_group(reqs)
        try:
            await self._wait(reqs[0][0], [(client, contexts[-1], done)], self._batch_timeout(len(reqs)))
            return [list(client.requests[c][3]) for c in contexts[:-1]]
        finally:
            for c in contexts:
                client.requests.pop(c, None)
