"""Physical interfaces VPP found at boot: the candidates for the main and other NICs.

The interface descriptor does not report untagged NICs (they are raw
material, adopted when desired), so the agent asks VPP directly which NICs
exist before it renders its base config.
"""

from __future__ import annotations

from contivctl.dataplane.vpp.connection import VPPConnection

#: VPP device classes the agent or VPP itself creates: never a NIC
_NOT_NICS = frozenset({"local", "Loopback", "BVI", "virtio", "af_packet", "VXLAN", "tap", "memif"})
_NOT_NIC_PREFIXES = ("local", "loop", "host-", "tap", "vxlan", "bvi")


async def physical_nics(vpp: VPPConnection) -> list[str]:
    """VPP names of the physical interfaces, in sw_if_index order (sub-interfaces excluded)."""
    found = await vpp.dump("sw_interface_dump", name_filter_valid=False, name_filter="")
    out = []
    for d in sorted(found, key=lambda d: int(d.sw_if_index)):
        name = str(d.interface_name)
        if int(d.sup_sw_if_index) != int(d.sw_if_index):
            continue
        if str(d.interface_dev_type) in _NOT_NICS or name.startswith(_NOT_NIC_PREFIXES):
            continue
        out.append(name)
    return out
