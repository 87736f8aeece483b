"""Veth pairs whose peer is born inside the pod's namespace.

Creating the peer directly in the target namespace (instead of creating
both ends here and moving one) means a pod never sees a half-configured
interface under a temporary name, and a name already taken in the pod's
namespace fails the create at once. Both ends carry the item key as their
alias: that is how a later resync knows which links are ours.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.channel import Channel, Channels
from contivctl.dataplane.linux.common import alias_for, delete_link, undo_create_here
from contivctl.dataplane.linux.netns import in_netns, netns_fd, set_checksum_offload_here
from contivctl.dataplane.linux.snapshot import Link, Snapshot
from contivctl.errors import LinuxError, NetlinkFailed
from contivctl.items.linux import Veth, ns_label, veth_key
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved

log = logging.getLogger(__name__)


class VethDescriptor(SnapshotDescriptor[Veth]):
    prefix = "linux/veth/"

    async def create(self, ctx: Context, key: str, value: Veth) -> Metadata:
        """Create the pair and mark both ends, as one job: a few requests, one trip to the worker."""
        self._snapshots.invalidate()
        alias, group = alias_for(key), self._snapshots.group

        reaper = self._snapshots.reaper

        def job(channels: Channels) -> Metadata:
            here = channels(value.netns)
            names = [(value.netns, value.name), (value.peer_netns, value.peer_name)]
            try:
                try:
                    _new_veth(here, value, group)
                except NetlinkFailed as exc:
                    # a name may still be held by a retired pair of the same attachment
                    if exc.code != errno.EEXIST or not reaper.clear_names(channels, names):
                        raise
                    _new_veth(here, value, group)
            except NetlinkFailed as exc:
                if exc.code == errno.EEXIST:
                    raise LinuxError(
                        f"cannot create veth {value.name}/{value.peer_name}: an interface of that name already "
                        f"exists in {ns_label(value.netns)} or {ns_label(value.peer_netns)} and is not ours"
                    ) from None
                raise
            try:
                index = here.require_link(value.name)
                here.request(nlmsg.set_link(index, alias=alias), f"mark veth end {value.name}")
                peer = channels(value.peer_netns)
                peer_index = peer.require_link(value.peer_name)
                peer.request(
                    nlmsg.set_link(peer_index, alias=alias, up=value.up),
                    f"configure {value.peer_name} in {ns_label(value.peer_netns)}",
                )
                if not value.checksum_offload:
                    in_netns(value.netns, lambda: set_checksum_offload_here(value.name, False))
                    in_netns(value.peer_netns, lambda: set_checksum_offload_here(value.peer_name, False))
            except BaseException:
                undo_create_here(channels, value.netns, value.name, "veth")
                raise
            return {value.netns: index, value.peer_netns: peer_index}

        try:
            return await channel.run(job)
        except BaseException:
            self._snapshots.let_go(value.peer_netns)
            raise

    async def update(self, ctx: Context, key: str, old: Veth, new: Veth, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        alias, group = alias_for(key), self._snapshots.group

        def job(channels: Channels) -> Metadata:
            here = channels(new.netns)
            index = here.require_link(new.name)
            here.request(
                nlmsg.set_link(index, alias=alias, up=new.up, mtu=new.mtu, mac=new.mac), f"update veth end {new.name}"
            )
            peer = channels(new.peer_netns)
            peer_index = peer.require_link(new.peer_name)
            peer.request(
                nlmsg.set_link(peer_index, alias=alias, group=group, up=new.up, mtu=new.mtu, mac=new.peer_mac),
                f"configure {new.peer_name} in {ns_label(new.peer_netns)}",
            )
            return {new.netns: index, new.peer_netns: peer_index}

        return await channel.run(job)

    def needs_recreate(self, old: Veth, new: Veth) -> bool:
        return (old.name, old.netns, old.peer_name, old.peer_netns, old.checksum_offload) != (
            new.name,
            new.netns,
            new.peer_name,
            new.peer_netns,
            new.checksum_offload,
        )

    async def delete(self, ctx: Context, key: str, value: Veth, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await self._remove(value)
        self._snapshots.let_go(value.peer_netns)

    async def _remove(self, value: Veth) -> None:
        # Deleting one end deletes its peer too.
        # Retired, not deleted here: the reaper deletes retired veths in batches
        # (one kernel wait for many); their names are free at once.
        reaper = self._snapshots.reaper
        try:
            if await reaper.retire(value.netns, value.name, peer=(value.peer_netns, value.peer_name)):
                return
        except LinuxError as exc:
            log.info("retiring veth %s failed (%s); deleting it now", value.name, exc)
        await delete_link(value.netns, value.name, "veth")

    async def settle(self) -> None:
        """Retired veths keep their names: delete them now, as a create (VPP's own TAP, say) may take a name."""
        await self._snapshots.reaper.flush()

    def namespaces(self, expected: Mapping[str, Veth]) -> set[str]:
        return {v.netns for v in expected.values()} | {v.peer_netns for v in expected.values()}

    async def retrieve(self, ctx: Context, expected: Mapping[str, Veth]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        reaper = self._snapshots.reaper
        for dump in snapshot.namespaces.values():
            if any(link.group == reaper.group for link in dump.links):
                reaper.schedule(dump.netns)  # left over from a crash: empty it now
        return retrieve_veths(snapshot, self._snapshots.group)

    def equivalent(self, desired: Veth, actual: Veth) -> bool:
        return (
            (desired.name, desired.netns, desired.peer_name, desired.peer_netns, desired.up)
            == (actual.name, actual.netns, actual.peer_name, actual.peer_netns, actual.up)
            and (not desired.mtu or desired.mtu == actual.mtu)
            and (not desired.peer_mac or desired.peer_mac.lower() == (actual.peer_mac or ""))
            and (not desired.mac or desired.mac.lower() == (actual.mac or ""))
        )


def _new_veth(here: Channel, value: Veth, group: int) -> None:
    with netns_fd(value.peer_netns) as peer_fd:
        here.request(
            nlmsg.new_veth(
                value.name,
                value.peer_name,
                peer_fd,
                group=group,
                mtu=value.mtu,
                mac=value.mac,
                peer_mac=value.peer_mac,
                up=value.up,
            ),
            f"create veth {value.name} in {ns_label(value.netns)}",
        )


def retrieve_veths(snapshot: Snapshot, snapshot_group: int) -> list[Retrieved]:
    """Our veth pairs, rebuilt from both ends; a pair whose peer is gone comes back without one."""
    ends: dict[str, list[Link]] = {}
    for key, link in snapshot.links_of(VethDescriptor.prefix):
        ends.setdefault(key, []).append(link)
    found = []
    for dump in snapshot.namespaces.values():
        for link in dump.links:
            if link.group == snapshot_group and link.owner_key is None:
                # Made by the agent but cut short before it was marked: a
                # leftover of an interrupted create, to be removed or redone.
                key = veth_key(dump.netns, link.name)
                value = Veth(name=link.name, netns=dump.netns, peer_name="", peer_netns="", up=False)
                found.append(Retrieved(key, value, metadata={dump.netns: link.index}, owned=True))
    for key, links in ends.items():
        own_ns = key[len(VethDescriptor.prefix) :].rsplit("/", 1)[0]
        own_ns = "" if own_ns == "host" else own_ns
        name = key.rsplit("/", 1)[1]
        here = next((lk for lk in links if lk.netns == own_ns and lk.name == name), None)
        if here is None:
            continue  # only a pod end left: it goes away with its namespace
        peer = next((lk for lk in links if lk is not here), None)
        value = Veth(
            name=here.name,
            netns=own_ns,
            peer_name=peer.name if peer else "",
            peer_netns=peer.netns if peer else "",
            mtu=peer.mtu if peer else here.mtu,
            peer_mac=peer.mac if peer else None,
            up=here.up and (peer.up if peer else False),
            mac=here.mac,
        )
        metadata = {here.netns: here.index, **({peer.netns: peer.index} if peer else {})}
        found.append(Retrieved(key, value, metadata=metadata, owned=True))
    return found
