"""Interfaces: create (or, for NICs, adopt), settings, and delete.

Ownership is a tag: every interface the agent creates or configures gets
`contiv:<logical name>` right after it exists, so a restarted agent finds
its interfaces (and their logical names) in a plain dump, and never touches
`local0`, a NIC it was not told to configure, or anything someone else made.
A NIC is never created or deleted: "creating" it adopts and configures the
NIC VPP found at boot, "deleting" it takes the agent's settings off it
again. An untagged NIC is not reported at all, so a desired NIC is adopted
rather than reported as someone else's item.

The settings of one interface are sent pipelined: VPP handles a
connection's requests in order, so they apply in the order listed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from contivctl.dataplane.vpp.connection import TAG_PREFIX, Request, VPPConnection
from contivctl.dataplane.vpp.descriptors.base import (
    ALL,
    IfName,
    InterfaceNames,
    VppDescriptor,
    mac_str,
    sw_if_index,
    tag_name,
)
from contivctl.errors import NicNotFound, VPPError
from contivctl.items.vpp import (
    AfPacket,
    Bvi,
    Interface,
    Link,
    Loopback,
    Physical,
    RxMode,
    Tap,
    Vxlan,
    interface_key,
)
from contivctl.reconcile import Context, Metadata, Retrieved

log = logging.getLogger(__name__)

ADMIN_UP = 1


def _settings(idx: int, v: Interface, old: Interface | None, ctx: Context) -> list[Request]:
    """The requests that take an interface from `old` (None: fresh) to `v`, in VPP's order."""
    reqs: list[Request] = []
    fresh = old is None
    if fresh and v.vrf != 0:
        reqs.append(("sw_interface_set_table", {"sw_if_index": idx, "is_ipv6": False, "vrf_id": v.vrf}))
    settable_mac = not isinstance(v.link, Vxlan)
    if v.mac is not None and settable_mac and (old is None or old.mac != v.mac) and not _mac_at_create(v, fresh):
        reqs.append(("sw_interface_set_mac_address", {"sw_if_index": idx, "mac_address": v.mac}))
    if v.mtu is not None and (old is None or old.mtu != v.mtu):
        reqs.append(("sw_interface_set_mtu", {"sw_if_index": idx, "mtu": [v.mtu, 0, 0, 0]}))
    if v.rx_mode is not None and (old is None or old.rx_mode != v.rx_mode):
        reqs.append(
            (
                "sw_interface_set_rx_mode",
                {"sw_if_index": idx, "queue_id_valid": False, "queue_id": 0, "mode": int(v.rx_mode)},
            )
        )
    old_un = old.unnumbered_to if old is not None else None
    if old_un != v.unnumbered_to:
        if old_un is not None:
            reqs.append(
                (
                    "sw_interface_set_unnumbered",
                    {"sw_if_index": sw_if_index(ctx, old_un), "unnumbered_sw_if_index": idx, "is_add": False},
                )
            )
        if v.unnumbered_to is not None:
            reqs.append(
                (
                    "sw_interface_set_unnumbered",
                    {"sw_if_index": sw_if_index(ctx, v.unnumbered_to), "unnumbered_sw_if_index": idx, "is_add": True},
                )
            )
    if old is None or old.enabled != v.enabled:
        flags = ADMIN_UP if v.enabled else 0
        reqs.append(("sw_interface_set_flags", {"sw_if_index": idx, "flags": flags}))
    return reqs


def _mac_at_create(v: Interface, fresh: bool) -> bool:
    """Kinds whose create request already carries the MAC."""
    return fresh and isinstance(v.link, Loopback | Bvi | Tap | AfPacket)


def _tag(idx: int, name: str) -> Request:
    return ("sw_interface_tag_add_del", {"is_add": True, "sw_if_index": idx, "tag": TAG_PREFIX + name})


#: the agent's name for an AF_PACKET bound to this host link, or None when the link is not one of its own
AfPacketOwner = Callable[[str], str | None]


class InterfaceDescriptor(VppDescriptor[Interface]):
    """VPP's interfaces; the agent's are those it tagged.

    An AF_PACKET is made first and tagged after: a create cut between the
    two (VPP lost, the agent killed) leaves one untagged. It is still the
    agent's when it is bound to one of the agent's host links
    (``af_packet_owner``, from the assembly, which knows the names) or to the
    host link of an item expected of this kind; it is then claimed, and
    finished or removed as any item of the agent's.
    """

    prefix = "vpp/interface/"

    def __init__(self, vpp: VPPConnection, af_packet_owner: AfPacketOwner | None = None) -> None:
        super().__init__(vpp)
        self._af_packet_owner = af_packet_owner

    # -- create / delete ------------------------------------------------------

    async def create(self, ctx: Context, key: str, value: Interface) -> Metadata:
        idx = await self._make(value)
        try:
            await self.vpp.call_many([_tag(idx, value.name), *_settings(idx, value, None, ctx)])
        except VPPError:
            # half-made: take it away again so a retry starts clean
            try:
                await self._unmake(value, idx, ctx)
            except VPPError:
                log.exception("could not undo partial create of %s", value.name)
            raise
        return idx

    async def _make(self, v: Interface) -> int:
        link = v.link
        vpp = self.vpp
        if isinstance(link, Physical):
            found = await vpp.dump("sw_interface_dump", name_filter_valid=True, name_filter=link.vpp_name)
            for d in found:
                if str(d.interface_name) == link.vpp_name:
                    return int(d.sw_if_index)
            raise NicNotFound(f"VPP has no interface {link.vpp_name!r}")
        if isinstance(link, Loopback):
            r = await vpp.call("create_loopback", mac_address=v.mac or "00:00:00:00:00:00")
        elif isinstance(link, Bvi):
            r = await vpp.call("bvi_create", mac=v.mac or "00:00:00:00:00:00", user_instance=ALL)
        elif isinstance(link, AfPacket):
            r = await vpp.call(
                "af_packet_create_v3",
                mode=1,
                hw_addr=v.mac or "00:00:00:00:00:00",
                use_random_hw_addr=v.mac is None,
                host_if_name=link.host_if_name,
                num_rx_queues=1,
                num_tx_queues=1,
            )
        elif isinstance(link, Tap):
            r = await vpp.call("tap_create_v3", **_tap_fields(v, link))
        else:
            r = await vpp.call("vxlan_add_del_tunnel_v3", **_vxlan_fields(link, True))
        return int(r.sw_if_index)

    async def _unmake(self, v: Interface, idx: int, ctx: Context | None) -> None:
        link = v.link
        vpp = self.vpp
        if isinstance(link, Physical):
            reqs: list[Request] = [("sw_interface_set_flags", {"sw_if_index": idx, "flags": 0})]
            if v.unnumbered_to is not None and ctx is not None and ctx.exists(interface_key(v.unnumbered_to)):
                lender = sw_if_index(ctx, v.unnumbered_to)
                reqs.append(
                    (
                        "sw_interface_set_unnumbered",
                        {"sw_if_index": lender, "unnumbered_sw_if_index": idx, "is_add": False},
                    )
                )
            if v.vrf != 0:
                reqs.append(("sw_interface_set_table", {"sw_if_index": idx, "is_ipv6": False, "vrf_id": 0}))
            reqs.append(("sw_interface_tag_add_del", {"is_add": False, "sw_if_index": idx, "tag": ""}))
            await vpp.call_many(reqs)
        elif isinstance(link, Loopback):
            await vpp.call("delete_loopback", sw_if_index=idx)
        elif isinstance(link, Bvi):
            await vpp.call("bvi_delete", sw_if_index=idx)
        elif isinstance(link, AfPacket):
            await vpp.call("af_packet_delete", host_if_name=link.host_if_name)
        elif isinstance(link, Tap):
            await vpp.call("tap_delete_v2", sw_if_index=idx)
        else:
            await vpp.call("vxlan_add_del_tunnel_v3", **_vxlan_fields(link, False))

    async def delete(self, ctx: Context, key: str, value: Interface, metadata: Metadata) -> None:
        await self._unmake(value, int(metadata), ctx)

    # -- update ---------------------------------------------------------------

    def needs_recreate(self, old: Interface, new: Interface) -> bool:
        # the link as VPP reads it back (an AF_PACKET's ``requires`` is the agent's own ordering)
        return not _same_link(new.link, old.link) or old.vrf != new.vrf

    async def update(self, ctx: Context, key: str, old: Interface, new: Interface, metadata: Metadata) -> Metadata:
        idx = int(metadata)
        # the tag again: an interface found half-made (created, never tagged) becomes the agent's for good
        await self.vpp.call_many([_tag(idx, new.name), *_settings(idx, new, old, ctx)])
        return idx

    # -- retrieve -------------------------------------------------------------

    async def retrieve(self, ctx: Context, expected: Mapping[str, Interface]) -> Iterable[Retrieved]:
        vpp = self.vpp
        names, taps, afp, vx, unnum = await asyncio.gather(
            InterfaceNames.load(vpp),
            vpp.dump("sw_interface_tap_v2_dump", sw_if_index=ALL),
            vpp.dump("af_packet_dump"),
            vpp.dump("vxlan_tunnel_v2_dump", sw_if_index=ALL),
            vpp.dump("ip_unnumbered_dump", sw_if_index=ALL),
        )
        indices = [i for i, d in names.details.items() if str(d.interface_dev_type) != "local"]
        tables, placements = await asyncio.gather(
            vpp.call_many([("sw_interface_get_table", {"sw_if_index": i, "is_ipv6": False}) for i in indices]),
            # ~0: the queues of every interface in one dump
            vpp.dump("sw_interface_rx_placement_dump", sw_if_index=ALL),
        )
        queues: dict[int, list[Any]] = {}
        for p in placements:
            queues.setdefault(int(p.sw_if_index), []).append(p)
        tap_by = {int(t.sw_if_index): t for t in taps}
        afp_by = {int(a.sw_if_index): a for a in afp}
        vx_by = {int(t.sw_if_index): t for t in vx}
        un_by = {int(u.sw_if_index): int(u.ip_sw_if_index) for u in unnum}
        half_made = {v.link.host_if_name: v.name for v in expected.values() if isinstance(v.link, AfPacket)}
        # a loopback is found by the MAC the agent gave it (VPP takes no tag with its create either)
        loops = {v.mac: v.name for v in expected.values() if isinstance(v.link, Loopback) and v.mac}
        owner = self._af_packet_owner
        taken = {n.name for n in names.by_index.values() if n.owned}  # never claim a name a tagged one has
        out = []
        for i, table in zip(indices, tables, strict=True):
            d = names.details[i]
            n = names.by_index[i]
            link = _link_of(d, tap_by.get(i), afp_by.get(i), vx_by.get(i))
            tagged = tag_name(d.tag) is not None
            claim = None
            if not tagged and isinstance(link, AfPacket):
                claim = half_made.get(link.host_if_name) or (owner(link.host_if_name) if owner else None)
            elif not tagged and isinstance(link, Loopback):
                claim = loops.get(mac_str(d.l2_address))
            if claim is not None and claim not in taken:
                n = IfName(claim, True, str(d.interface_name))
                taken.add(claim)
            if isinstance(link, Physical) and not n.owned:
                continue  # a NIC nobody configured yet: raw material, adopted when desired
            un_to = un_by.get(i)
            un_name = names.by_index[un_to].name if un_to is not None and un_to in names.by_index else None
            modes = {int(p.mode) for p in queues.get(i, ())}
            rx_mode = RxMode(modes.pop()) if len(modes) == 1 and modes <= {1, 2, 3} else None
            value = Interface(
                name=n.name,
                link=link,
                enabled=bool(int(d.flags) & ADMIN_UP),
                mtu=int(d.mtu[0]) or None,
                mac=mac_str(d.l2_address),
                rx_mode=rx_mode,
                vrf=int(table.vrf_id),
                unnumbered_to=un_name,
                tagged=tag_name(d.tag) is not None,
            )
            out.append(Retrieved(value.key, value, metadata=i, owned=n.owned))
        return out

    def owns(self, key: str, value: Interface) -> bool:
        return False  # retrieve always says, from the tag

    def equivalent(self, desired: Interface, actual: Interface) -> bool:
        if not actual.tagged:
            return False  # half-made: the update tags it
        if desired.name != actual.name or desired.enabled != actual.enabled or desired.vrf != actual.vrf:
            return False
        if desired.unnumbered_to != actual.unnumbered_to or not _same_link(desired.link, actual.link):
            return False
        if desired.mtu is not None and desired.mtu != actual.mtu:
            return False
        if desired.mac is not None and not isinstance(desired.link, Vxlan) and desired.mac != actual.mac:
            return False
        return desired.rx_mode is None or actual.rx_mode is None or desired.rx_mode == actual.rx_mode


def _same_link(want: Link, have: Link) -> bool:
    if isinstance(want, Tap) and isinstance(have, Tap):
        return (
            want.host_if_name == have.host_if_name
            and want.host_netns == have.host_netns
            and want.rx_ring_size in (0, have.rx_ring_size)  # 0: whatever VPP chose
            and want.tx_ring_size in (0, have.tx_ring_size)
            and (want.host_mac is None or want.host_mac == have.host_mac)
            and (want.host_mtu is None or want.host_mtu == have.host_mtu)
        )
    if isinstance(want, AfPacket) and isinstance(have, AfPacket):
        return want.host_if_name == have.host_if_name
    return want == have


def _link_of(d: Any, tap: Any, afp: Any, vx: Any) -> Link:
    if tap is not None:
        return Tap(
            host_if_name=str(tap.host_if_name),
            host_mac=mac_str(tap.host_mac_addr),
            host_mtu=int(tap.host_mtu_size) or None,
            host_netns=str(tap.host_namespace),
            rx_ring_size=int(tap.rx_ring_sz),
            tx_ring_size=int(tap.tx_ring_sz),
        )
    if afp is not None:
        return AfPacket(str(afp.host_if_name))
    if vx is not None:
        return Vxlan(vx.src_address, vx.dst_address, int(vx.vni), int(vx.encap_vrf_id))
    dev = str(d.interface_dev_type)
    if dev == "Loopback":
        return Loopback()
    if dev == "BVI":
        return Bvi()
    return Physical(str(d.interface_name))


def _tap_fields(v: Interface, t: Tap) -> dict[str, Any]:
    f: dict[str, Any] = {
        "id": ALL,
        "use_random_mac": v.mac is None,
        "mac_address": v.mac or "00:00:00:00:00:00",
        "num_rx_queues": 1,
        "num_tx_queues": 1,
        "rx_ring_sz": t.rx_ring_size,
        "tx_ring_sz": t.tx_ring_size,
        "host_if_name_set": True,
        "host_if_name": t.host_if_name,
        # tagged as it is made: a create cut short leaves nothing the agent cannot recognise
        "tag": TAG_PREFIX + v.name,
    }
    if t.host_mac is not None:
        f.update(host_mac_addr_set=True, host_mac_addr=t.host_mac)
    if t.host_mtu is not None:
        f.update(host_mtu_set=True, host_mtu_size=t.host_mtu)
    if t.host_netns:
        f.update(host_namespace_set=True, host_namespace=t.host_netns)
    return f


def _vxlan_fields(x: Vxlan, is_add: bool) -> dict[str, Any]:
    return {
        "is_add": is_add,
        "instance": ALL,
        "src_address": x.src,
        "dst_address": x.dst,
        "mcast_sw_if_index": ALL,
        "encap_vrf_id": x.encap_vrf,
        "decap_next_index": ALL,
        "vni": x.vni,
    }
