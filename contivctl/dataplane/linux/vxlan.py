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
from collections.abc import Iterable
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from contivctl.dataplane.linux.base import SnapshotDescriptor
from contivctl.dataplane.linux.common import (
    NetlinkFailed,
    alias_for,
    delete_link,
    netlink_errors,
    require_link,
)
from contivctl.dataplane.linux.netns import iproute
from contivctl.errors import LinuxError
from contivctl.items.kernel import VxlanLink
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata, Retrieved


class VxlanDescriptor(SnapshotDescriptor[VxlanLink]):
    prefix = "linux/vxlan/"

    async def create(self, ctx: Context, key: str, value: VxlanLink) -> Metadata:
        self._snapshots.invalidate()
        async with iproute(value.netns) as ipr:
            try:
                with netlink_errors(f"create vxlan {value.name} in {ns_label(value.netns)}"):
                    await ipr.link(
                        "add",
                        ifname=value.name,
                        kind="vxlan",
                        vxlan_id=value.vni,
                        vxlan_local=str(value.local),
                        vxlan_port=value.port,
                        vxlan_learning=0,
                        group=self._snapshots.group,
                    )
            except NetlinkFailed as exc:
                if exc.code == errno.EEXIST:
                    raise LinuxError(
                        f"cannot create vxlan {value.name}: an interface of that name (or another VXLAN device "
                        f"with VNI {value.vni} on port {value.port}) exists in {ns_label(value.netns)} and is not ours"
                    ) from None
                raise
        try:
            index = await self._configure(key, value)
        except BaseException:
            await self._remove(value)
            raise
        return {value.netns: index}

    async def _configure(self, key: str, value: VxlanLink) -> int:
        async with iproute(value.netns) as ipr:
            index = await require_link(ipr, value.netns, value.name)
            attrs: dict[str, Any] = {"ifalias": alias_for(key)}
            if value.mtu:
                attrs["mtu"] = value.mtu
            if value.mac:
                attrs["address"] = value.mac
            with netlink_errors(f"configure vxlan {value.name} in {ns_label(value.netns)}"):
                await ipr.link("set", index=index, **attrs)
                await ipr.link("set", index=index, state="up" if value.up else "down")
            return index

    async def update(self, ctx: Context, key: str, old: VxlanLink, new: VxlanLink, metadata: Metadata) -> Metadata:
        self._snapshots.invalidate()
        return {new.netns: await self._configure(key, new)}

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

    async def retrieve(self, ctx: Context) -> Iterable[Retrieved]:
        snapshot = await self._snapshots.get(ctx)
        found = []
        for link in snapshot.owned_links():
            key = link.owner_key
            if key is None or not key.startswith(self.prefix):
                continue
            async with iproute(link.netns) as ipr:
                with netlink_errors(f"read vxlan {link.name} in {ns_label(link.netns)}"):
                    info = await _link_info(ipr, link.index)
            if info is None:
                continue  # removed since the snapshot was taken
            value = VxlanLink(
                netns=link.netns,
                name=link.name,
                vni=int(info.get("IFLA_VXLAN_ID") or 0),
                local=ipaddress.ip_address(info.get("IFLA_VXLAN_LOCAL") or "0.0.0.0"),
                port=int(info.get("IFLA_VXLAN_PORT") or 0),
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


async def _link_info(ipr: Any, index: int) -> dict[str, Any] | None:
    """The VXLAN attributes of a device, or None when it is gone."""
    try:
        msg = (await ipr.link("get", index=index))[0]
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    linkinfo = msg.get_attr("IFLA_LINKINFO")
    data = linkinfo.get_attr("IFLA_INFO_DATA") if linkinfo is not None else None
    if data is None:
        return {}
    return {name: val for name, val in data["attrs"]}
