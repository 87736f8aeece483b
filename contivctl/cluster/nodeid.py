"""Node ID allocation: the original's algorithm, and the duplicate-ID fix it lacked.

The original (``idAllocator.getID``, later ``NodeSync.allocateID``): reuse
the ID recorded under this node's name; otherwise claim the smallest free
positive integer with ``If(Version(key) == 0) Then(Put(key, record))``,
listing again after a lost race, and give up after 11 tries.

Its flaw (contiv/vpp#1492): the ID lived only in etcd. When etcd lost its
data while agents ran, a restarting node was handed the smallest free ID —
often one a running node still used — and two nodes got the same pod
subnet. Here the agent also remembers its ID in its local store. If etcd
no longer has a record under this node's name, the agent claims the *same*
ID again; if that ID is now recorded for another node it refuses to start
(:class:`~contivctl.errors.NodeIDConflict`) rather than share a subnet.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import attrs

from contivctl.cluster.record import ALLOCATED_IDS, check_node_name, decode, encode, id_key, id_of_key
from contivctl.errors import NodeIDConflict, NodeIDUnavailable, RecordError, StoreError
from contivctl.kv.etcd import EtcdStore
from contivctl.kv.store import KVStore
from contivctl.model import NodeInfo

log = logging.getLogger(__name__)

#: The original gave up once attempts exceeded 10: 11 tries.
MAX_ATTEMPTS = 11
#: Where the agent's local store keeps the ID it claimed.
LOCAL_KEY = "/contiv/cluster/node-id"


@attrs.frozen
class Remembered:
    id: int
    name: str


@attrs.frozen
class Claim:
    id: int
    #: False when etcd could not be asked and the ID is the one the local store remembered.
    confirmed: bool = True


async def remembered_id(local: KVStore) -> Remembered | None:
    raw = await local.get(LOCAL_KEY)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Remembered(int(data["id"]), str(data["name"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"local store: {LOCAL_KEY} holds no node ID ({exc})") from exc


async def remember(local: KVStore, node_id: int, name: str) -> None:
    await local.put(LOCAL_KEY, json.dumps({"id": node_id, "name": name}).encode())


def smallest_free(taken: Sequence[int] | set[int]) -> int:
    used = set(taken)
    candidate = 1
    while candidate in used:
        candidate += 1
    return candidate


def conflict_message(node_id: int, name: str, owner: str) -> str:
    return (
        f"node ID {node_id}, which node {name!r} used before (its local store remembers it), is recorded "
        f"in etcd for node {owner!r}: etcd must have lost its records while the nodes ran. Refusing to "
        f"start: both nodes would use the same pod subnet. Remove one of them from the cluster "
        f"(contivctl node remove NAME) and restart its agent"
    )


async def _owners(cluster: EtcdStore) -> dict[int, NodeInfo | None]:
    """Every claimed ID with its record; an unreadable record still holds its ID (owner None)."""
    listing = await cluster.list_entries(ALLOCATED_IDS)
    owners: dict[int, NodeInfo | None] = {}
    for key, entry in listing.entries.items():
        node_id = id_of_key(key)
        if node_id is None:
            continue
        try:
            owners[node_id] = decode(entry.value, key)
        except RecordError as exc:
            log.warning("unreadable node record, its ID stays taken: %s", exc)
            owners[node_id] = None
    return owners


async def allocate_node_id(
    cluster: EtcdStore,
    local: KVStore,
    name: str,
    *,
    ip_addresses: Sequence[str] = (),
    management_ips: Sequence[str] = (),
) -> int:
    """Return this node's ID, claiming one in etcd if needed, and remember it locally.

    Raises NodeIDConflict (the remembered ID belongs to another node),
    NodeIDUnavailable (every try lost a race) or StoreError (etcd unreachable).
    """
    check_node_name(name)
    remembered = await remembered_id(local)
    if remembered is not None and remembered.name != name:
        log.warning("local store: node ID %d is remembered for node %r, not %r", remembered.id, remembered.name, name)
        remembered = None
    for attempt in range(1, MAX_ATTEMPTS + 1):
        owners = await _owners(cluster)
        mine = sorted(i for i, node in owners.items() if node is not None and node.name == name)
        if mine:
            chosen = remembered.id if remembered is not None and remembered.id in mine else mine[0]
            if len(mine) > 1:
                log.warning("etcd records IDs %s for node %r; using %d", mine, name, chosen)
            if remembered is not None and remembered.id != chosen:
                log.warning(
                    "etcd records node ID %d for %r, the local store remembered %d: following etcd",
                    chosen,
                    name,
                    remembered.id,
                )
            if remembered is None or remembered.id != chosen:
                await remember(local, chosen, name)
            return chosen
        if remembered is not None:
            if remembered.id in owners:
                owner = owners[remembered.id]
                raise NodeIDConflict(conflict_message(remembered.id, name, owner.name if owner else "(unreadable)"))
            candidate = remembered.id
            log.warning("etcd has no record of node %r: claiming its remembered ID %d again", name, candidate)
        else:
            candidate = smallest_free(set(owners))
        record = encode(NodeInfo(candidate, name, tuple(ip_addresses), tuple(management_ips)))
        if await cluster.create(id_key(candidate), record):
            await remember(local, candidate, name)
            log.info("node %r claimed ID %d (try %d)", name, candidate, attempt)
            return candidate
        log.info("node ID %d was claimed by another node meanwhile (try %d of %d)", candidate, attempt, MAX_ATTEMPTS)
    raise NodeIDUnavailable(f"node {name!r}: no node ID claimed: max attempt limit reached ({MAX_ATTEMPTS} tries)")


async def claim_node_id(
    cluster: EtcdStore,
    local: KVStore,
    name: str,
    *,
    ip_addresses: Sequence[str] = (),
    management_ips: Sequence[str] = (),
) -> Claim:
    """The ID to start with: from etcd, or — etcd unreachable — the one remembered locally.

    etcd is needed only for a node's first start; afterwards a node whose
    etcd is down starts with its remembered ID and publishes its record once
    etcd is back (where a conflict is still detected and reported).
    """
    try:
        await cluster.connect()
        node_id = await allocate_node_id(cluster, local, name, ip_addresses=ip_addresses, management_ips=management_ips)
        return Claim(node_id)
    except StoreError as exc:
        remembered = await remembered_id(local)
        if remembered is None or remembered.name != name:
            raise NodeIDUnavailable(f"node {name!r} has no node ID yet and etcd is unreachable: {exc}") from exc
        log.warning("etcd unreachable (%s): starting with node ID %d from the local store", exc, remembered.id)
        return Claim(remembered.id, confirmed=False)
