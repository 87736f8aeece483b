"""VXLAN devices of the kernel dataplane: one per node, every peer behind it by FDB entries.

One device for all peers (not one per peer, as VPP's tunnels are) keeps a
node joining or leaving down to its FDB entry, neighbour entry and route,
and needs no name per peer. Learning is off: the agent tells the device
where each peer MAC is, so no flooding and no multicast group are needed.

Like a veth, the device carries the agent's device group from the request
that creates it and the item key in its alias once it is configured.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux import channel, nlmsg
from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.channel import Channels
from contivctl.dataplane.linux.common import alias_for, delete_link, undo_create_here
from contivctl.errors import LinuxError, NetlinkFailed
from contivctl.iptypes import IPAddress
from contivctl.items.kernel import VxlanLink
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class VxlanDescriptor(SnapshotDescriptor[VxlanLink]):
    prefix = "linux/vxlan/"

    async def create(self, ctx: Context, key: str, value: VxlanLink) -> Metadata:
        self._snapshots.invalidate()
        group = self._snapshots.group

        def job(channels: Channels) -> Metadata:
            here = channels(value.netns)
            try:
                here.request(
                    nlmsg.new_link(
                        value.name, "vxlan", nlmsg.vxlan_data(value.vni, value.local, value.port), group=group
                    ),
                    f"create vxlan {value.name} in {ns_label(value.netns)}",
                )
            except NetlinkFailed as exc:
                if exc.code == errno.EEXIST:
                    raise LinuxError(
                        f"cannot create vxlan {value.name}: an interface of that name (or another VXLAN device "
                        f"with VNI {value.vni} on port {value.port}) exists in {ns_label(value.netns)} and is not ours"
                    ) from None
                raise
            try:
                return {value.netns: _configure(channels, key, value)}
            except BaseException:
                undo_create_here(channels, value.netns, value.name, "vxlan")
                raise

        return await channel.run(job)

    async def update(self, ctx: Context, key: str, old: VxlanLink, new: VxlanLink, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        return {new.netns: await channel.run(lambda channels: _configure(channels, key, new))}

    def needs_recreate(self, old: VxlanLink, new: VxlanLink) -> bool:
        return (old.netns, old.name, old.vni, old.local, old.port) != (
            new.netns,
            new.name,
            new.vni,
            new.local,
            new.port,
        )

    async def delete(self, ctx: Context, key: str, value: VxlanLink, metadata: Metadata) -> None:
        self._snapshots.invalidate()
        await self._remove(value)

    async def _remove(self, value: VxlanLink) -> None:
        await delete_link(value.netns, value.name, "vxlan")

    async def retrieve(self, ctx: Context, expected: Mapping[str, VxlanLink]) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx, self.namespaces(expected))
        links = list(snapshot.links_of(self.prefix))
        if not links:
            return []
        infos = await channel.run(lambda channels: [_vxlan_info(channels, lk.netns, lk.index) for _, lk in links])
        found = []
        for (key, link), info in zip(links, infos, strict=True):
            if info is None:
                continue  # removed since the snapshot was taken
            vni, local, port = info
            value = VxlanLink(
                netns=link.netns,
                name=link.name,
                vni=vni,
                local=local if local is not None else ipaddress.IPv4Address(0),
                port=port,
                mac=link.mac,
                mtu=link.mtu,
                up=link.up,
            )
            found.append(Retrieved(key, value, metadata={link.netns: link.index}, owned=True))
        return found

    def equivalent(self, desired: VxlanLink, actual: VxlanLink) -> bool:
        return (
            (desired.netns, desired.name, desired.vni, desired.local, desired.port, desired.up)
            == (actual.netns, actual.name, actual.vni, actual.local, actual.port, actual.up)
            and (not desired.mtu or desired.mtu == actual.mtu)
            and (not desired.mac or desired.mac.lower() == (actual.mac or ""))
        )


def _configure(channels: Channels, key: str, value: VxlanLink) -> int:
    here = channels(value.netns)
    index = here.require_link(value.name)
    here.request(
        nlmsg.set_link(index, alias=alias_for(key), mtu=value.mtu, mac=value.mac, up=value.up),
        f"configure vxlan {value.name} in {ns_label(value.netns)}",
    )
    return index


def _vxlan_info(channels: Channels, netns: str, index: int) -> tuple[int, IPAddress | None, int] | None:
    """VNI, local address and port of a device, or None when it is gone (a job's part)."""
    try:
        replies = channels(netns).request(nlmsg.get_link_by_index(index), f"read vxlan {index} in {ns_label(netns)}")
    except NetlinkFailed as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    # a device of ours that is no VXLAN device (any more) reads as one with nothing right
    return (nlmsg.vxlan_info(replies[0]) if replies else None) or (0, None, 0)
