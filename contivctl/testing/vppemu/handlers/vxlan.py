"""vxlan.api: L2 VXLAN tunnels."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import Retval, VppApiError
from ..state.interfaces import ALL, Kind, VxlanInfo, random_mac
from .base import Context, Fields, dump, ensure, ip_of, reply
from .common import delete_interface

VXLAN_PORT = 4789
MAX_VNI = (1 << 24) - 1
N_DECAP_NEXT = 4  # drop, l2-input, ip4-input, ip6-input


@reply("vxlan_add_del_tunnel_v3")
def vxlan_add_del(ctx: Context, m: Any) -> Fields:
    st = ctx.state
    src, dst = ip_of(m.src_address), ip_of(m.dst_address)
    ensure(src.version == dst.version, Retval.INVALID_ADDRESS_FAMILY, "src/dst family")
    ensure(src != dst, Retval.SAME_SRC_DST, str(src))
    ensure(m.vni <= MAX_VNI, Retval.INVALID_VALUE, f"vni {m.vni}")
    decap = m.decap_next_index
    ensure(decap == ALL or decap < N_DECAP_NEXT, Retval.INVALID_DECAP_NEXT, str(decap))
    info = VxlanInfo(
        instance=m.instance,
        src=src,
        dst=dst,
        src_port=m.src_port or VXLAN_PORT,
        dst_port=m.dst_port or VXLAN_PORT,
        mcast_sw_if_index=m.mcast_sw_if_index,
        encap_vrf_id=m.encap_vrf_id,
        decap_next_index=1 if decap == ALL else decap,
        vni=m.vni,
    )
    existing = st.interfaces.vxlan_tunnel(info)
    if not m.is_add:
        ensure(existing is not None, Retval.NO_SUCH_ENTRY, f"vxlan {src}->{dst} vni {m.vni}")
        assert existing is not None
        delete_interface(ctx, existing)
        return {"sw_if_index": existing.sw_if_index}
    if existing is not None:
        raise VppApiError(Retval.TUNNEL_EXIST, f"vxlan {src}->{dst} vni {m.vni}", sw_if_index=existing.sw_if_index)
    st.ip.table(src.version == 6, m.encap_vrf_id)
    if dst.is_multicast:
        st.interfaces.get(m.mcast_sw_if_index)
    inst = st.interfaces.free_instance(Kind.VXLAN, m.instance)
    info.instance = inst
    iface = st.interfaces.add(f"vxlan_tunnel{inst}", Kind.VXLAN, random_mac(), instance=inst, vxlan=info)
    return {"sw_if_index": iface.sw_if_index}


@dump("vxlan_tunnel_v2_dump")
def vxlan_tunnel_v2_dump(ctx: Context, m: Any) -> Iterator[Fields]:
    ifaces = ctx.state.interfaces
    if m.sw_if_index == ALL:
        tunnels = ifaces.of_kind(Kind.VXLAN)
    else:
        one = ifaces.by_index.get(m.sw_if_index)
        tunnels = [one] if one is not None and one.kind is Kind.VXLAN else []
    for iface in tunnels:
        v = iface.vxlan
        assert v is not None
        yield {
            "sw_if_index": iface.sw_if_index,
            "instance": v.instance,
            "src_address": v.src,
            "dst_address": v.dst,
            "src_port": v.src_port,
            "dst_port": v.dst_port,
            "mcast_sw_if_index": v.mcast_sw_if_index,
            "encap_vrf_id": v.encap_vrf_id,
            "decap_next_index": v.decap_next_index,
            "vni": v.vni,
        }
