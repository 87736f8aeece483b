"""The node part of the query API and the REST IPAM endpoint, on a running node."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from contivctl.api import ContivAPI
from contivctl.rest import RestServer
from contivctl.testing.vppemu import Emulator
from tests.nodes.conftest import needs_root
from tests.nodes.support import HostSide, config, running_node

pytestmark = needs_root


async def test_node_queries_and_slow_watchers(emu: Emulator, sockdir: Path, side: HostSide) -> None:
    cfg = config(
        IPAMConfig={"NodeInterconnectDHCP": True},
        NatExternalTraffic=True,
        NodeConfig=[{"NodeName": "node-a", "OtherVPPInterfaces": [{"InterfaceName": "GigabitEthernet0/9/0"}]}],
    )
    async with running_node(emu, sockdir / "a.db", cfg, side) as n:
        api = ContivAPI(n.controller, cfg, n.view.inputs.plan.pod_subnet_this_node)
        assert api.get_node_ip() is None
        assert api.get_main_physical_if_name() == "GigabitEthernet0/8/0"
        assert api.get_other_physical_if_names() == ["GigabitEthernet0/9/0"]
        assert api.get_host_interconnect_if_name() == "tap-vpp2"
        assert api.get_vxlan_bvi_if_name() == "vxlanBVI"
        assert not api.in_stn_mode()
        assert api.get_default_interface() is None and not api.nat_external_traffic()  # no gateway yet
        assert api.get_nat_loopback_ip() == ipaddress.ip_address("10.1.5.254")
        assert api.get_service_local_endpoint_weight() == 1

        async with api.watch_node_ip() as slow, api.watch_node_ip() as fast:
            assert await anext(fast) is None
            nic = [d for d in await n.vpp.dump("sw_interface_dump") if str(d.interface_name) == "GigabitEthernet0/8/0"]
            emu.dhcp_lease(int(nic[0].sw_if_index), "192.168.16.77/24", "192.168.16.1")
            assert str(await asyncio.wait_for(anext(fast), 10)) == "192.168.16.77/24"
            emu.dhcp_lease(int(nic[0].sw_if_index), "192.168.16.78/24", "192.168.16.1")
            assert str(await asyncio.wait_for(anext(fast), 10)) == "192.168.16.78/24"
            # The slow one never read: it gets the current value, intermediate ones are skipped.
            assert str(await anext(slow)) == "192.168.16.78/24"
        assert str(api.get_node_ip()) == "192.168.16.78/24"
        assert api.get_default_interface() == ("GigabitEthernet0/8/0", ipaddress.ip_address("192.168.16.78"))
        assert api.nat_external_traffic()

        rest = RestServer(
            node_name="node-a", plan=lambda: n.view.inputs.plan, ipam=cfg.ipam, ready=lambda: (True, ""), history=list
        )
        async with (
            TestServer(rest.app) as server,
            aiohttp.ClientSession() as s,
            s.get(server.make_url("/contiv/v1/ipam")) as resp,
        ):
            data = await resp.json()
        assert (data["nodeId"], data["nodeIP"]) == (5, "192.168.16.78")
