"""A prefix watch that outlives etcd restarts, compactions and data loss.

aetcd's watch ends with an error when the connection drops and has no
notion of resuming. This one keeps the revision of the last change it
delivered and, after a disconnect, asks etcd for the changes *after* it
(``revision + 1``), so nothing is missed and nothing is delivered twice.

Two cases cannot be resumed, and both turn into a fresh :class:`Snapshot`
(the whole prefix, as one value) that the consumer diffs against what it
knows:

- the revision was compacted away (``RevisionCompactedError``);
- etcd lost its data, or was restored from a backup: its history is not the
  one the watch saw, and resuming at an old revision would skip or wait for
  changes. After every interruption the watch lists the prefix and compares
  it with the key revisions it knows (:func:`diverged`) before resuming.

The consumer therefore never needs to tell a restart from an outage: it gets
a Snapshot first and whenever its knowledge may be stale, and Changes
otherwise.

The store offers the watch (``EtcdStore.watch``), so this module does not
import the store: it names what it reads of one (:class:`WatchedStore`), and
the listing a store returns is defined here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

import aetcd.exceptions
import attrs

from contivctl.errors import StoreError

log = logging.getLogger(__name__)


def raise_if_cancelled(exc: BaseException) -> None:
    """gRPC turns the cancellation of a task waiting on a call into an RPC error (CANCELLED):
    give the task its cancellation back instead of reporting an etcd failure."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError() from exc


@attrs.frozen
class Entry:
    value: bytes
    mod_revision: int
    version: int


@attrs.frozen
class Listing:
    """Keys under a prefix as of ``revision`` (what a watch resumes after)."""

    entries: Mapping[str, Entry]
    revision: int
    raft_term: int = 0


class WatchedStore(Protocol):
    """What the watch reads of a store: listings, aetcd's watch, and a way to the next endpoint."""

    @property
    def endpoint(self) -> str: ...

    def client(self) -> Any: ...  # aetcd's client, which is untyped

    async def list_entries(self, prefix: str) -> Listing: ...

    async def failover(self) -> None: ...


@attrs.frozen
class Snapshot:
    """Everything under the prefix as of ``revision``: replaces what the consumer knew."""

    entries: Mapping[str, bytes]
    revision: int


@attrs.frozen
class Change:
    """One key put (``value``) or deleted (``value is None``) at ``revision``."""

    key: str
    value: bytes | None
    revision: int


@attrs.frozen
class Resumed:
    """The watch is back after an interruption, continuing after ``revision``; nothing was missed.

    What the consumer itself wrote meanwhile may still be lost (etcd went
    down before it was stored or replicated): a consumer that keeps a key
    of its own in etcd checks it again on this signal.
    """

    revision: int


WatchUpdate = Snapshot | Change | Resumed


@attrs.frozen
class RetryDelay:
    initial: float = 0.1
    maximum: float = 2.0


DEFAULT_RETRY = RetryDelay()


async def _cancel(watch: Any) -> None:
    """Cancel an aetcd watch without hanging on a stream that is already gone."""
    try:
        async with asyncio.timeout(1.0):
            await watch.cancel()
    except (TimeoutError, aetcd.exceptions.ClientError) as exc:
        log.debug("watch %s not cancelled cleanly: %r", getattr(watch, "watch_id", "?"), exc)


def diverged(known: Mapping[str, int], revision: int, listing: Listing) -> bool:
    """Whether etcd's history is no longer the one ``known`` (key → mod revision, as of ``revision``) saw.

    A restarted etcd that kept its data explains every difference by changes
    after ``revision``. One that lost its data (restored, re-created) shows
    keys changed at or before ``revision`` that were not so, misses keys
    although nothing happened since, or simply has a lower revision.
    """
    if listing.revision < revision:
        return True
    for key, entry in listing.entries.items():
        if entry.mod_revision <= revision and known.get(key) != entry.mod_revision:
            return True
    return listing.revision == revision and not set(known) <= set(listing.entries)


async def watch_prefix(
    store: WatchedStore, prefix: str, *, retry: RetryDelay = DEFAULT_RETRY
) -> AsyncIterator[WatchUpdate]:
    """Yield a Snapshot, then Changes, forever; reconnects on its own. Close it (``aclose``) to stop."""
    revision = 0  # of the last update delivered; 0: the consumer knows nothing yet
    known: dict[str, int] = {}  # key -> mod revision, as of ``revision``
    delay = retry.initial
    outage = False
    while True:
        try:
            listing = await store.list_entries(prefix) if revision == 0 or outage else None
            if listing is not None and revision and diverged(known, revision, listing):
                log.warning(
                    "etcd %s has another history than before (revision %d, was %d; data lost or restored): "
                    "listing %s again",
                    store.endpoint,
                    listing.revision,
                    revision,
                    prefix,
                )
                revision = 0
            if listing is not None and revision == 0:
                revision = listing.revision
                known = {k: e.mod_revision for k, e in listing.entries.items()}
                yield Snapshot({k: e.value for k, e in listing.entries.items()}, revision)
            watch = await store.client().watch_prefix(prefix.encode(), start_revision=revision + 1)
            if outage:
                log.info("etcd %s: watch of %s resumed after revision %d", store.endpoint, prefix, revision)
                outage = False
                yield Resumed(revision)
            delay = retry.initial
            try:
                async for event in watch:
                    kv = event.kv
                    key = bytes(kv.key).decode()
                    at = int(kv.mod_revision)
                    if event.kind == "DELETE":
                        known.pop(key, None)
                        yield Change(key, None, at)
                    else:
                        known[key] = at
                        yield Change(key, bytes(kv.value), at)
                    revision = at
            finally:
                await _cancel(watch)
            # A watch that ends without an error had its client closed under it (failover): go round.
            outage = True
        except aetcd.exceptions.RevisionCompactedError as exc:
            raise_if_cancelled(exc)
            log.info("etcd %s: watch of %s: %s; listing again", store.endpoint, prefix, exc)
            revision = 0
        except (StoreError, aetcd.exceptions.ClientError) as exc:
            raise_if_cancelled(exc)
            if not outage:
                log.warning("etcd %s: watch of %s interrupted (%s); retrying", store.endpoint, prefix, exc)
                outage = True
            if isinstance(exc, aetcd.exceptions.ConnectionFailedError | aetcd.exceptions.ConnectionTimeoutError):
                await store.failover()
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.maximum)
