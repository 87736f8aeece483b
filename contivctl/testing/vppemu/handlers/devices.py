"""tapv2.api and af_packet.api: interfaces backed by real host devices."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from typing import Any

from .. import kernel
from ..errors import Retval, VppApiError
from ..state.interfaces import ALL, Kind, TapInfo, random_mac
from .base import Context, Fields, async_reply, dump, ensure, mac_bytes, reply, text
from .common import delete_interface

TAP_MAX_ID = 4096
MAX_RING = 32768


def _ring(value: int) -> int:
    size = value or 256
    ensure(size <= MAX_RING and size & (size - 1) == 0, Retval.INVALID_VALUE, f"ring size {value}")
    return size


def _prefix(is_set: bool, value: Any, cls: type[Any]) -> Any:
    if not is_set:
        return None
    return value if isinstance(value, cls) else cls(value)


@async_reply("tap_create_v3")
async def tap_create_v3(ctx: Context, m: Any) -> Fields:
    st = ctx.state
    # a tap's id is its instance number: tap<id>
    tap_id = m.id
    if tap_id == ALL:
        tap_id = st.interfaces.free_instance(Kind.TAP, None)
    ensure(tap_id <= TAP_MAX_ID, Retval.INVALID_INTERFACE, f"tap id {tap_id} out of range")
    ensure(tap_id not in st.interfaces.instances(Kind.TAP), Retval.INVALID_INTERFACE, f"tap id {tap_id} in use")
    rx, tx = _ring(m.rx_ring_sz), _ring(m.tx_ring_sz)
    host_name = text(m.host_if_name) if m.host_if_name_set else f"tap{tap_id}"
    netns = text(m.host_namespace) if m.host_namespace_set else ""
    host_mac = mac_bytes(m.host_mac_addr) if m.host_mac_addr_set else random_mac()
    host_mtu = m.host_mtu_size if m.host_mtu_set else 0
    ip4 = _prefix(bool(m.host_ip4_prefix_set), m.host_ip4_prefix, ipaddress.IPv4Interface)
    ip6 = _prefix(bool(m.host_ip6_prefix_set), m.host_ip6_prefix, ipaddress.IPv6Interface)
    try:
        key = await asyncio.to_thread(ctx.kernel.create_tap, host_name, host_mac, host_mtu or None, netns, ip4, ip6)
    except kernel.KernelError as e:
        retval = Retval.SYSCALL_ERROR_2 if e.stage == "TUNSETIFF" else Retval.NETLINK_ERROR
        raise VppApiError(retval, str(e)) from e
    if ctx.state is not st:  # VPP restarted while the kernel worked
        await asyncio.to_thread(ctx.kernel.delete_tap, key)
        raise VppApiError(Retval.UNSPECIFIED, "restarted")
    mac = random_mac() if m.use_random_mac else mac_bytes(m.mac_address)
    info = TapInfo(
        id=tap_id,
        tx_ring_sz=tx,
        rx_ring_sz=rx,
        host_if_name=host_name,
        host_namespace=netns,
        host_mtu_size=host_mtu or 1500,
        host_mac=host_mac,
        host_ip4_prefix=ip4,
        host_ip6_prefix=ip6,
        host_bridge=text(m.host_bridge) if m.host_bridge_set else "",
        tap_flags=int(m.tap_flags),
        kernel_key=key,
    )
    iface = st.interfaces.add(f"tap{tap_id}", Kind.TAP, mac, instance=tap_id, tap=info, tag=text(m.tag))
    return {"sw_if_index": iface.sw_if_index}


@async_reply("tap_delete_v2")
async def tap_delete_v2(ctx: Context, m: Any) -> None:
    iface = ctx.state.interfaces.get(m.sw_if_index)
    ensure(iface.kind is Kind.TAP, Retval.INVALID_SW_IF_INDEX, f"{iface.name} is not a tap")
    delete_interface(ctx, iface)
    assert iface.tap is not None
    await asyncio.to_thread(ctx.kernel.delete_tap, iface.tap.kernel_key)


@dump("sw_interface_tap_v2_dump")
def tap_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    ifaces = ctx.state.interfaces
    if m.sw_if_index == ALL:
        taps = ifaces.of_kind(Kind.TAP)
    else:
        one = ifaces.by_index.get(m.sw_if_index)
        taps = [one] if one is not None and one.kind is Kind.TAP else []
    for iface in taps:
        t = iface.tap
        assert t is not None
        yield {
            "sw_if_index": iface.sw_if_index,
            "id": t.id,
            "tx_ring_sz": t.tx_ring_sz,
            "rx_ring_sz": t.rx_ring_sz,
            "host_mtu_size": t.host_mtu_size,
            "host_mac_addr": t.host_mac,
            "host_ip4_prefix": t.host_ip4_prefix or ipaddress.IPv4Interface("0.0.0.0/0"),
            "host_ip6_prefix": t.host_ip6_prefix or ipaddress.IPv6Interface("::/0"),
            "tap_flags": t.tap_flags,
            "dev_name": iface.name,
            "host_if_name": t.host_if_name,
            "host_namespace": t.host_namespace,
            "host_bridge": t.host_bridge,
        }


# ---- af_packet


@reply("af_packet_create_v3")
def af_packet_create_v3(ctx: Context, m: Any) -> Fields:
    st = ctx.state
    host = text(m.host_if_name)
    ensure(bool(host), Retval.INVALID_ARGUMENT, "empty host_if_name")
    existing = st.interfaces.af_packet(host)
    if existing is not None:
        raise VppApiError(Retval.IF_ALREADY_EXISTS, host, sw_if_index=existing.sw_if_index)
    if not kernel.link_exists(host):
        raise VppApiError(Retval.INVALID_INTERFACE, f"host interface {host} does not exist")
    try:
        kernel.bring_up(host)
    except OSError as e:
        raise VppApiError(Retval.SYSCALL_ERROR_1, f"{host}: {e}") from e
    mac = random_mac() if m.use_random_hw_addr else mac_bytes(m.hw_addr)
    iface = st.interfaces.add(f"host-{host}", Kind.AF_PACKET, mac, host_if_name=host, link_mtu=kernel.link_mtu(host))
    return {"sw_if_index": iface.sw_if_index}


@reply("af_packet_delete")
def af_packet_delete(ctx: Context, m: Any) -> None:
    host = text(m.host_if_name)
    iface = ctx.state.interfaces.af_packet(host)
    if iface is None:
        raise VppApiError(Retval.SYSCALL_ERROR_1, f"host interface {host} has no af_packet")
    delete_interface(ctx, iface)


@dump("af_packet_dump")
def af_packet_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    for iface in ctx.state.interfaces.of_kind(Kind.AF_PACKET):
        yield {"sw_if_index": iface.sw_if_index, "host_if_name": iface.host_if_name}
