"""A prefix watch that outlives etcd restarts, compactions and data loss.

aetcd's watch ends with an error when the connection drops and has no
notion of resuming. This one keeps the revision of the last change it
delivered and, after a disconnect, asks etcd for the changes *after* it
(``revision + 1``), so nothing is missed and nothing is delivered twice.

Two cases cannot be resumed, and both turn into a fresh :class:`Snapshot`
(the whole prefix, as one value) that the consumer diffs against what it
knows:

- the revision was compacted away (``RevisionCompactedError``);
- etcd lost its data (its revision or raft term went backwards), where
  resuming at an old revision would wait for changes that never come.

The consumer therefore never needs to tell a restart from an outage: it gets
a Snapshot first and whenever its knowledge may be stale, and Changes
otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

import aetcd.exceptions
import attrs

from contivctl.errors import StoreError

if TYPE_CHECKING:
    from contivctl.kv.etcd import EtcdStore

log = logging.getLogger(__name__)


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


WatchUpdate = Snapshot | Change


@attrs.frozen
class RetryDelay:
    initial: float = 0.1
    maximum: float = 2.0


DEFAULT_RETRY = RetryDelay()


async def watch_prefix(
    store: EtcdStore, prefix: str, *, retry: RetryDelay = DEFAULT_RETRY
) -> AsyncIterator[WatchUpdate]:
    """Yield a Snapshot, then Changes, forever; reconnects on its own. Close it (``aclose``) to stop."""
    revision = 0  # of the last update delivered; 0: the consumer knows nothing yet
    term = 0
    delay = retry.initial
    outage = False
    while True:
        try:
            if revision:
                now, now_term = await store.revision()
                if now < revision or now_term < term:
                    log.warning(
                        "etcd %s lost its data (revision %d, was %d): listing %s again",
                        store.endpoint,
                        now,
                        revision,
                        prefix,
                    )
                    revision = 0
            if not revision:
                listing = await store.list_entries(prefix)
                revision, term = listing.revision, listing.raft_term
                yield Snapshot({k: e.value for k, e in listing.entries.items()}, revision)
            watch = await store.client().watch_prefix(prefix.encode(), start_revision=revision + 1)
            if outage:
                log.info("etcd %s: watch of %s resumed after revision %d", store.endpoint, prefix, revision)
                outage = False
            delay = retry.initial
            try:
                async for event in watch:
                    kv = event.kv
                    at = int(kv.mod_revision)
                    value = None if event.kind == "DELETE" else bytes(kv.value)
                    yield Change(bytes(kv.key).decode(), value, at)
                    revision = at
            finally:
                await watch.cancel()
            # A watch that ends without an error had its client closed under it (failover): go round.
        except aetcd.exceptions.RevisionCompactedError as exc:
            log.info("etcd %s: watch of %s: %s; listing again", store.endpoint, prefix, exc)
            revision = 0
        except (StoreError, aetcd.exceptions.ClientError) as exc:
            if not outage:
                log.warning("etcd %s: watch of %s interrupted (%s); retrying", store.endpoint, prefix, exc)
                outage = True
            if isinstance(exc, aetcd.exceptions.ConnectionFailedError | aetcd.exceptions.ConnectionTimeoutError):
                await store.failover()
            await asyncio.sleep(delay)
            delay = min(delay * 2, retry.maximum)
