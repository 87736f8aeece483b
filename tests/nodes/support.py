"""A node with its vswitch base config and node events, on the emulator, for tests.

The host stack's side of the interconnect lives in a network namespace the
test creates, so the routes to the pod CIDR never touch the machine's own
tables; the vswitch end of a veth (VETH mode) lives in the test process's
namespace under a unique name. Everything is removed afterwards.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import attrs

from contivctl.agent.node import assemble
from contivctl.agent.vpp import HostStack, VppParts
from contivctl.config import parse_config
from contivctl.config.model import Config
from contivctl.controller import NodeView
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection
from contivctl.kv.local import LocalStore
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, Node

NODE = "node-a"


def config(**overrides: Any) -> Config:
    data: dict[str, Any] = {
        "UseTAPInterfaces": True,
        "TCPstackDisabled": True,
        "MTUSize": 1450,
        "NatExternalTraffic": False,
        "IPAMConfig": {"NodeInterconnectCIDR": "192.168.16.0/24"},
    }
    data.update(overrides)
    return parse_config(data)


@attrs.define
class HostSide:
    """The namespace standing in for the host stack, and the interconnect's Linux names."""

    name: str
    host_if: str
    vswitch_if: str

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"


@contextlib.contextmanager
def host_side() -> Iterator[HostSide]:
    tag = uuid.uuid4().hex[:8]
    side = HostSide(name=f"ctlhost-{tag}", host_if=f"cvh{tag}", vswitch_if=f"cvs{tag}")
    subprocess.run(["ip", "netns", "add", side.name], check=True)
    try:
        yield side
    finally:
        subprocess.run(["ip", "netns", "del", side.name], check=False, capture_output=True)
        for dev in (side.vswitch_if, side.host_if):
            subprocess.run(["ip", "link", "del", dev], check=False, capture_output=True)


@attrs.define
class ClusterNode(Node):
    view: NodeView = attrs.field(kw_only=True)


@contextlib.asynccontextmanager
async def running_node(
    emu: Emulator, store_path: Path, cfg: Config, side: HostSide, node_id: int = 5
) -> AsyncIterator[ClusterNode]:
    vpp = VPPConnection(emu.socket_path, api_dir=API_DIR, timeout=2.0, backoff=Backoff(initial=0.01, maximum=0.1))
    host = HostStack(netns=side.path, host_if=side.host_if, vswitch_if=side.vswitch_if)
    parts = VppParts(vpp, scope=str(store_path), state_dir=store_path.parent, host=host, wait=5)
    store = await LocalStore.open(store_path)
    built = await assemble(parts, cfg, NODE, node_id, store)
    reconciler, controller = built.reconciler, built.controller
    await controller.start()
    node = ClusterNode(cfg, emu, vpp, store, reconciler, controller, view=built.view)
    try:
        yield node
    finally:
        await controller.stop()
        # Take the vswitch base config away again, so no tap or veth outlives the test.
        await reconciler.apply({k: None for k in controller.desired()}, trigger="test teardown")
        await reconciler.aclose()
        await vpp.close()
        await store.close()


def ip_json(netns: str, *args: str) -> Any:
    import json

    out = subprocess.run(["ip", "-n", netns, "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


async def tunnels(vpp: VPPConnection) -> dict[str, tuple[str, str, int]]:
    """VXLAN tunnels by the agent's name for them: (src, dst, vni)."""
    names = {
        int(d.sw_if_index): d.tag[len("contiv:") :]
        for d in await vpp.dump("sw_interface_dump")
        if d.tag.startswith("contiv:")
    }
    found = await vpp.dump("vxlan_tunnel_v2_dump", sw_if_index=0xFFFFFFFF)
    return {names.get(int(t.sw_if_index), "?"): (str(t.src_address), str(t.dst_address), int(t.vni)) for t in found}


async def routes(vpp: VPPConnection, vrf: int) -> dict[str, set[str]]:
    """Routes of a VRF: prefix → next hops."""
    out: dict[str, set[str]] = {}
    for r in await vpp.dump("ip_route_dump", table={"table_id": vrf, "is_ip6": False}):
        hops = out.setdefault(str(r.route.prefix), set())
        for p in r.route.paths:
            hops.add(str(p.nh.address.ip4))
    return out
