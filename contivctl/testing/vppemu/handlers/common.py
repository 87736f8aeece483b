"""Interface life-cycle rules several API areas share."""

from __future__ import annotations

from ..state.interfaces import Interface
from .base import Context

IF_EVENT = "interface"


def notify_flags(ctx: Context, iface: Interface, deleted: bool = False) -> None:
    ctx.publish(
        IF_EVENT,
        "sw_interface_event",
        {"sw_if_index": iface.sw_if_index, "flags": 0 if deleted else iface.flags, "deleted": deleted},
    )


def set_admin(ctx: Context, iface: Interface, up: bool) -> None:
    if iface.admin_up != up:
        iface.admin_up = up
        notify_flags(ctx, iface)


def delete_interface(ctx: Context, iface: Interface) -> None:
    """What VPP's interface-delete callbacks undo, then the deleted event."""
    st = ctx.state
    idx = iface.sw_if_index
    st.ip.drop_addresses(idx)
    st.l2.leave(idx)
    st.nat.forget_interface(idx)
    st.ip.neighbors.pop(idx, None)
    st.ip.proxy_arp_interfaces.discard(idx)
    st.ip.container_proxies = {c for c in st.ip.container_proxies if c[1] != idx}
    st.services.dhcp_clients.pop(idx, None)
    st.interfaces.remove(idx)  # also unnumbers whoever borrowed its addresses
    notify_flags(ctx, iface, deleted=True)
