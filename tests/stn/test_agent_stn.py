"""A node in STN mode, end to end: the daemon steals a stand-in NIC, VPP (the emulator) takes it, the agent
wires the node from what was stolen, and when the agent takes its host interconnect away the NIC is back in
Linux exactly as it was."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

import pytest

from contivctl.agent.vpp import HostStack, VppParts
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.errors import STNError
from contivctl.ipam import node_setup
from contivctl.stn.client import STNClient
from contivctl.testing.vppemu import running_emulator
from tests.agent.support import API_DIR, vpp_interfaces
from tests.nodes.support import HostSide, config, ip_json, routes, running_node
from tests.stn.conftest import needs_root
from tests.stn.support import GATEWAY, StandInNic, given_back, running_daemon

pytestmark = needs_root

NIC = "GigabitEthernet0/8/0"
ALL = 0xFFFFFFFF


def stn_config(nic: StandInNic, socket: Path, **overrides: Any) -> Any:
    # No NodeInterconnectCIDR: in STN mode the stolen address is the node IP.
    return config(StealInterface=nic.nic, STNSocketFile=str(socket), IPAMConfig={}, **overrides)


async def _addresses(vpp: VPPConnection, sw_if_index: int) -> set[str]:
    return {str(a.prefix) for a in await vpp.dump("ip_address_dump", sw_if_index=sw_if_index, is_ipv6=False)}


@pytest.mark.parametrize(
    ("tap", "version"), [(True, 2), (True, 1), (False, 0)], ids=["tap-punt", "tap-stn-rule", "veth-stn-rule"]
)
async def test_steal_wire_and_give_back(nic: StandInNic, sockdir: Path, tap: bool, version: int) -> None:
    before = nic.snapshot()
    side = HostSide(name=nic.host, host_if=f"stn{nic.tag}h", vswitch_if=f"stn{nic.tag}s")
    try:
        with running_daemon(nic, sockdir, watch_link=side.host_if) as daemon:
            await STNClient(str(daemon.socket)).steal(nic.nic)
            async with running_emulator(sockdir, host_nics={NIC: (nic.host, nic.nic)}) as emu:
                assert emu.skipped_nics == {}  # stolen: VPP may take it
                cfg = stn_config(nic, daemon.socket, UseTAPInterfaces=tap, STNVersion=version)
                async with running_node(emu, sockdir / "a.db", cfg, side) as node:
                    await _check_wiring(node, side, tap, version)
                    desired = node.controller.desired()
                    record = await node.reconciler.resync_full(desired, trigger="check")
                    assert [op for op in record.ops if op.key in desired] == []
                    assert nic.addresses() == [] and not nic.is_up()  # VPP's, as long as the link lives
                # The node took its items away, the host interconnect with them: the NIC is the kernel's again.
                await given_back(nic, before)
                assert daemon.logged(f"{side.host_if} is gone")
    finally:
        subprocess.run(["ip", "link", "del", side.vswitch_if], check=False, capture_output=True)


async def _check_wiring(node: Any, side: HostSide, tap: bool, version: int) -> None:
    vpp = node.vpp
    assert node.view.node_ip == ipaddress.IPv4Interface("192.168.77.5/24")
    ifs = await vpp_interfaces(vpp)
    vpp_if = "tap-vpp2" if tap else "afpacket-vpp2"
    nic_idx, link_idx = ifs[NIC].sw_if_index, ifs[vpp_if].sw_if_index
    # the NIC's addresses and default route are VPP's now
    assert await _addresses(vpp, nic_idx) == {"192.168.77.5/24", "10.66.0.5/16"}
    vrf0 = await routes(vpp, 0)
    assert vrf0["0.0.0.0/0"] == {GATEWAY} and vrf0["10.67.0.0/16"] == {"192.168.77.2"}
    # the interconnect borrows the NIC's address; what is for the host goes to it
    unnumbered = {
        int(u.sw_if_index): int(u.ip_sw_if_index) for u in await vpp.dump("ip_unnumbered_dump", sw_if_index=ALL)
    }
    assert unnumbered[link_idx] == nic_idx
    assert await _addresses(vpp, link_idx) == set()
    rules = [(str(r.ip_address), int(r.sw_if_index)) for r in await vpp.dump("stn_rules_dump")]
    punts = await vpp.dump("ip_punt_redirect_v2_dump", sw_if_index=ALL, af=0)
    if version == 2:
        assert rules == []
        assert [(p.punt.paths[0].sw_if_index, str(p.punt.paths[0].nh.address.ip4)) for p in punts] == [
            (link_idx, "192.168.77.5")
        ]
    else:
        assert rules == [("192.168.77.5", link_idx)] and punts == []
    proxy = [(str(p.proxy.low), str(p.proxy.hi)) for p in await vpp.dump("proxy_arp_dump")]
    assert proxy == [("192.168.77.1", "192.168.77.254")]
    assert [int(d.sw_if_index) for d in await vpp.dump("proxy_arp_intfc_dump")] == [link_idx]
    # the host stack: the node IP on its end of the link, its routes through VPP
    host = ip_json(side.name, "addr", "show", side.host_if)
    assert host[0]["address"] == "00:00:00:00:00:02"
    assert [(a["local"], a["prefixlen"]) for a in host[0]["addr_info"] if a["family"] == "inet"] == [
        ("192.168.77.5", 24)
    ]
    host_routes = {(r["dst"], r.get("gateway")) for r in ip_json(side.name, "route", "show", "dev", side.host_if)}
    assert {("default", GATEWAY), ("10.1.0.0/16", GATEWAY), ("10.67.0.0/16", "192.168.77.2")} <= host_routes


async def test_no_daemon_no_node(nic: StandInNic, sockdir: Path) -> None:
    """STN mode without the daemon's answer has no node IP: the agent refuses to start, saying where it asked."""
    async with running_emulator(sockdir, nics=[NIC]) as emu:
        vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0, backoff=Backoff(initial=0.01, maximum=0.1))
        parts = VppParts(vpp, scope="t", host=HostStack(netns=nic.host_path), wait=5, stn_wait=0.2)
        cfg = stn_config(nic, sockdir / "nobody.sock")
        try:
            await parts.connect()
            with pytest.raises(STNError, match=r"no STN daemon answers on .*nobody\.sock"):
                await parts.inputs(node_setup(cfg, "node-a", 5))
        finally:
            await vpp.close()


async def test_a_nic_vpp_did_not_take_is_refused(nic: StandInNic, sockdir: Path) -> None:
    """VPP started before the steal skips the NIC (Linux still uses it): the agent says so instead of wiring nothing."""
    async with running_emulator(sockdir, host_nics={NIC: (nic.host, nic.nic)}) as emu:
        assert NIC in emu.skipped_nics
        with running_daemon(nic, sockdir) as daemon:
            await STNClient(str(daemon.socket)).steal(nic.nic)
            vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0)
            parts = VppParts(vpp, scope="t", host=HostStack(netns=nic.host_path), wait=5)
            try:
                await parts.connect()
                with pytest.raises(STNError, match="VPP has no NIC"):
                    await parts.inputs(node_setup(stn_config(nic, daemon.socket), "node-a", 5))
            finally:
                await vpp.close()
