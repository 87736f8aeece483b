"""The etcd store: the :class:`~contivctl.kv.store.KVStore` protocol over aetcd, plus what a cluster needs.

Beyond get/list/put/delete/commit a cluster needs a create that succeeds only
for an absent key (``version == 0``, how node IDs are claimed), a
compare-and-replace on a key's revision, prefix deletion, leases kept alive
in the background, and a prefix watch that survives etcd restarts
(:mod:`contivctl.kv.etcdwatch`).

Every operation is bounded by the operation timeout and fails with
:class:`~contivctl.errors.StoreError` naming the endpoint: nothing that calls
the store can hang on an etcd that is gone. With several endpoints, a
connection failure moves the store on to the next one for the next call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aetcd
import aetcd.exceptions
import aetcd.rpc
import grpc

from contivctl.errors import StoreError
from contivctl.kv.etcdconf import EtcdConfig
from contivctl.kv.etcdwatch import Entry, Listing, WatchUpdate, raise_if_cancelled, watch_prefix
from contivctl.kv.store import Commit

log = logging.getLogger(__name__)

T = TypeVar("T")

#: gRPC's default reconnect backoff grows to two minutes: an agent would notice a
#: restarted etcd that late. Keepalive pings find a peer that vanished without a FIN.
_CHANNEL_OPTIONS: Mapping[str, int] = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
}


class _Client(aetcd.Client):  # type: ignore[misc]  # aetcd is untyped
    """aetcd's client with a TLS channel: aetcd itself only opens plaintext ones."""

    def __init__(self, host: str, port: int, *, timeout: float, credentials: grpc.ChannelCredentials | None) -> None:
        super().__init__(host=host, port=port, timeout=timeout, options=dict(_CHANNEL_OPTIONS))
        self._credentials = credentials

    async def connect(self) -> None:
        if self._credentials is None:
            await super().connect()
            return
        if self._connected.is_set():
            return
        target = f"{self._host}:{self._port}"
        self.channel = aetcd.rpc.secure_channel(target, self._credentials, options=list(self._options.items()))
        self.kvstub = aetcd.rpc.KVStub(self.channel)
        self.clusterstub = aetcd.rpc.ClusterStub(self.channel)
        self.leasestub = aetcd.rpc.LeaseStub(self.channel)
        self.maintenancestub = aetcd.rpc.MaintenanceStub(self.channel)
        self._watcher = aetcd.watcher.Watcher(
            aetcd.rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
        )
        self._connected.set()


def _credentials(cfg: EtcdConfig) -> grpc.ChannelCredentials | None:
    if cfg.tls is None:
        return None

    def read(path: Any) -> bytes | None:
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as exc:
            raise StoreError(f"etcd TLS: cannot read {path}: {exc.strerror}") from exc

    return grpc.ssl_channel_credentials(
        root_certificates=read(cfg.tls.ca_file),
        private_key=read(cfg.tls.key_file),
        certificate_chain=read(cfg.tls.cert_file),
    )


def _split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def _b(key: str) -> bytes:
    return key.encode()


class EtcdStore:
    """Lazy: nothing is dialled until the first call or :meth:`connect`."""

    def __init__(self, cfg: EtcdConfig) -> None:
        self.cfg = cfg
        self._credentials = _credentials(cfg)
        self._index = 0
        self._client: _Client | None = None
        self._closed = False

    @property
    def endpoint(self) -> str:
        return self.cfg.endpoints[self._index]

    def __repr__(self) -> str:
        return f"EtcdStore({','.join(self.cfg.endpoints)})"

    # -- connection ---------------------------------------------------------------

    def client(self) -> _Client:
        if self._closed:
            raise StoreError(f"etcd store {self.endpoint} is closed")
        if self._client is None:
            host, port = _split(self.endpoint)
            self._client = _Client(host, port, timeout=self.cfg.op_timeout, credentials=self._credentials)
        return self._client

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def failover(self) -> None:
        """Move to the next endpoint (if there is another) after a connection failure."""
        if len(self.cfg.endpoints) > 1:
            old = self.endpoint
            self._index = (self._index + 1) % len(self.cfg.endpoints)
            log.info("etcd %s unreachable, trying %s", old, self.endpoint)
            await self._drop_client()

    async def connect(self) -> None:
        """Dial until one endpoint answers, each within the dial timeout, or fail naming them all.

        A refused connection fails at once (gRPC reports the endpoint
        unavailable); only a silent one costs the whole dial timeout.
        """
        errors = []
        for _ in self.cfg.endpoints:
            endpoint = self.endpoint
            try:
                await self._call("status", lambda c: c.status(), timeout=self.cfg.dial_timeout)
                return
            except StoreError as exc:
                errors.append(f"{endpoint}: {exc.__cause__ or 'no answer'}")
                if len(self.cfg.endpoints) == 1:
                    break
                if self.endpoint == endpoint:
                    await self.failover()
        raise StoreError(f"etcd not reachable: {'; '.join(errors)}")

    async def _call(self, what: str, op: Callable[[_Client], Awaitable[T]], *, timeout: float | None = None) -> T:
        client = self.client()
        limit = self.cfg.op_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                return await op(client)
        except TimeoutError as exc:
            raise_if_cancelled(exc)
            endpoint = self.endpoint
            await self.failover()
            raise StoreError(f"etcd {endpoint}: {what}: no answer within {limit:g}s") from None
        except (aetcd.exceptions.ConnectionFailedError, aetcd.exceptions.ConnectionTimeoutError) as exc:
            raise_if_cancelled(exc)
            endpoint = self.endpoint
            await self.failover()
            raise StoreError(f"etcd {endpoint}: {what}: {exc}") from exc
        except aetcd.exceptions.ClientError as exc:
            raise_if_cancelled(exc)
            raise StoreError(f"etcd {self.endpoint}: {what}: {exc}") from exc

    async def close(self) -> None:
        self._closed = True
        await self._drop_client()

    # -- the KVStore protocol ----------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        entry = await self.get_entry(key)
        return None if entry is None else entry.value

    async def list(self, prefix: str) -> dict[str, bytes]:
        listing = await self.list_entries(prefix)
        return {k: e.value for k, e in listing.entries.items()}

    async def put(self, key: str, value: bytes) -> None:
        await self._call(f"put {key}", lambda c: c.put(_b(key), value))

    async def delete(self, key: str) -> bool:
        result = await self._call(f"delete {key}", lambda c: c.delete(_b(key)))
        return result is not None

    async def commit(self, commit: Commit) -> None:
        async def op(c: _Client) -> Any:
            tx = c.transactions
            ops = [tx.put(_b(k), v) for k, v in commit.puts.items()] + [tx.delete(_b(k)) for k in commit.deletes]
            return await c.transaction(compare=[], success=ops, failure=[])

        await self._call("commit", op)

    # -- beyond the protocol -----------------------------------------------------------

    async def get_entry(self, key: str) -> Entry | None:
        kv = await self._call(f"get {key}", lambda c: c.get(_b(key)))
        if kv is None:
            return None
        return Entry(bytes(kv.value), int(kv.mod_revision), int(kv.version))

    async def list_entries(self, prefix: str) -> Listing:
        result = await self._call(f"list {prefix}", lambda c: c.get_prefix(_b(prefix)))
        entries = {
            bytes(kv.key).decode(): Entry(bytes(kv.value), int(kv.mod_revision), int(kv.version)) for kv in result
        }
        return Listing(entries, int(result.header.revision), int(result.header.raft_term))

    async def create(self, key: str, value: bytes, *, lease: int | None = None) -> bool:
        """Put ``key`` only if it does not exist (``version == 0``); False when it does."""

        async def op(c: _Client) -> Any:
            tx = c.transactions
            return await c.transaction(
                compare=[tx.version(_b(key)) == 0], success=[tx.put(_b(key), value, lease=lease)], failure=[]
            )

        succeeded, _ = await self._call(f"create {key}", op)
        return bool(succeeded)

    async def replace(self, key: str, value: bytes, mod_revision: int) -> bool:
        """Put ``key`` only if it was last modified at ``mod_revision``; False when it changed meanwhile."""

        async def op(c: _Client) -> Any:
            tx = c.transactions
            return await c.transaction(
                compare=[tx.mod(_b(key)) == mod_revision], success=[tx.put(_b(key), value)], failure=[]
            )

        succeeded, _ = await self._call(f"replace {key}", op)
        return bool(succeeded)

    async def delete_if(self, key: str, mod_revision: int) -> bool:
        """Delete ``key`` only if it was last modified at ``mod_revision``."""

        async def op(c: _Client) -> Any:
            tx = c.transactions
            return await c.transaction(
                compare=[tx.mod(_b(key)) == mod_revision], success=[tx.delete(_b(key))], failure=[]
            )

        succeeded, _ = await self._call(f"delete {key}", op)
        return bool(succeeded)

    async def delete_prefix(self, prefix: str) -> int:
        if not prefix:
            raise StoreError("refusing to delete the whole etcd keyspace (empty prefix)")
        result = await self._call(f"delete {prefix}*", lambda c: c.delete_prefix(_b(prefix)))
        return int(result.deleted)

    async def revision(self) -> tuple[int, int]:
        """The store's current revision and raft term (a wiped etcd starts both again)."""
        listing = await self.list_entries("\0")  # no key starts with NUL: only the header comes back
        return listing.revision, listing.raft_term

    async def compact(self, revision: int) -> None:
        await self._call(f"compact {revision}", lambda c: c.compact(revision, physical=True))

    async def grant(self, ttl: int) -> KeptLease:
        """A lease kept alive in the background until closed; ``lost`` is set if it expired anyway."""
        lease = await self._call(f"grant lease {ttl}s", lambda c: c.lease(ttl))
        return KeptLease(self, int(lease.id), ttl)

    def watch(self, prefix: str) -> AsyncIterator[WatchUpdate]:
        """Snapshot first, then changes; resumes after outages (see :mod:`contivctl.kv.etcdwatch`)."""
        return watch_prefix(self, prefix)


class KeptLease:
    """Refreshes its lease at a third of the TTL; a lease etcd no longer knows is ``lost``.

    aetcd grants and refreshes leases but keeps none alive. Keys put with this
    lease vanish once it is lost (revoked, or etcd unreachable past the TTL);
    the owner watches ``lost`` and grants a new one.
    """

    def __init__(self, store: EtcdStore, lease_id: int, ttl: int) -> None:
        self.store = store
        self.id = lease_id
        self.ttl = ttl
        self.lost = asyncio.Event()
        self.refreshes = 0
        self._task = asyncio.get_running_loop().create_task(self._keepalive(), name=f"etcd-lease-{lease_id:x}")

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        expires = loop.time() + self.ttl
        while loop.time() < expires:
            await asyncio.sleep(self.ttl / 3)
            try:
                reply = await self.store._call("refresh lease", lambda c: c.refresh_lease(self.id))
            except StoreError as exc:
                raise_if_cancelled(exc)
                log.debug("lease %x not refreshed: %s", self.id, exc)
                continue
            if reply is None or int(reply.TTL) <= 0:
                break
            expires = loop.time() + int(reply.TTL)
            self.refreshes += 1
        log.warning("etcd lease %x expired", self.id)
        self.lost.set()

    async def close(self, *, revoke: bool = True) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if revoke and not self.lost.is_set():
            try:
                await self.store._call("revoke lease", lambda c: c.revoke_lease(self.id))
            except StoreError as exc:
                log.info("lease %x not revoked (it expires by itself): %s", self.id, exc)
        self.lost.set()
