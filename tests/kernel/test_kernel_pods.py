"""Pods wired through the controller to a node namespace playing the vswitch: real packets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from contivctl.dataplane.linux.netns import in_netns
from contivctl.dataplane.linux.route import RouteDescriptor
from contivctl.dataplane.linux.sysctl import read_sysctl
from contivctl.errors import LinuxError, PodWiringError
from contivctl.items.linux import Route
from contivctl.reconcile.descriptor import Context
from contivctl.reconcile.item import Metadata
from contivctl.render import naming
from tests.kernel.conftest import needs_root
from tests.kernel.support import Lab, config, ip_json, new_cid, pings, reachable, running_node
from tests.polling import until

pytestmark = needs_root


async def test_two_pods_ping_each_other_and_the_gateway(the_lab: Lab, store_dir: Path) -> None:
    cfg = config()
    ns = the_lab.node(cfg, 1)
    async with running_node(cfg, ns, store_dir / "a.db") as node:
        pod1, pod2 = the_lab.pod(), the_lab.pod()
        cid1, cid2 = new_cid(), new_cid()
        r1 = await node.add(cid1, pod1)
        r2 = await node.add(cid2, pod2)
        gw = r1.gateway

        assert await reachable(pod1, r2.attachment.ip)
        assert await reachable(pod2, r1.attachment.ip)
        assert await reachable(pod1, gw)

        # the pod side, exactly as with VPP
        host_end = naming.host_veth_name(cid1, "eth0")
        vswitch_mac = naming.vpp_side_mac(cid1, "eth0")
        addrs = {(a["local"], a["prefixlen"]) for i in ip_json(pod1, "addr", "show", "eth0") for a in i["addr_info"]}
        assert (str(r1.attachment.ip), 32) in addrs
        routes = {(r["dst"], r.get("gateway")) for r in ip_json(pod1, "route", "show")}
        assert {(str(gw), None), ("default", str(gw))} <= routes
        neigh = ip_json(pod1, "neigh", "show", "dev", "eth0")
        assert [(n["dst"], n["lladdr"], n["state"]) for n in neigh] == [(str(gw), vswitch_mac, ["PERMANENT"])]
        # the vswitch side: host end with that MAC and the gateway, a /32 route to the pod, forwarding on
        (link,) = ip_json(ns.path, "link", "show", host_end)
        assert link["address"] == vswitch_mac
        host_addrs = [
            (a["local"], a["prefixlen"])
            for i in ip_json(ns.path, "addr", "show", host_end)
            for a in i["addr_info"]
            if a["family"] == "inet"
        ]
        assert host_addrs == [(str(gw), 32)]
        to_pods = {r["dst"]: r["dev"] for r in ip_json(ns.path, "route", "show", "proto", "199")}
        assert to_pods[str(r1.attachment.ip)] == host_end
        assert in_netns(ns.path, lambda: read_sysctl("net.ipv4.ip_forward")) == "1"

        await node.delete(cid1)
        await until(lambda: not ip_json(ns.path, "link", "show", host_end))
        assert str(r1.attachment.ip) not in {r["dst"] for r in ip_json(ns.path, "route", "show", "proto", "199")}
        assert not await pings(pod2, r1.attachment.ip)
        assert await reachable(pod2, gw)  # the other pod keeps its gateway


class _FailingPodRoute(RouteDescriptor):
    """The vswitch's route to a pod cannot be made: everything before it must be undone."""

    async def create(self, ctx: Context, key: str, value: Route) -> Metadata:
        if value.dst.prefixlen == 32 and value.dev.startswith("cv"):
            raise LinuxError("injected failure")
        return await super().create(ctx, key, value)


class _VanishingPod(RouteDescriptor):
    """The pod's namespace vanishes in the middle of its ADD."""

    lab: Lab

    async def create(self, ctx: Context, key: str, value: Route) -> Metadata:
        if value.netns != "" and "ctlkpod" in value.netns and value.via is not None:
            _VanishingPod.lab.remove(value.netns.rsplit("/", 1)[-1])
        return await super().create(ctx, key, value)


@pytest.mark.parametrize("fault", [_FailingPodRoute, _VanishingPod], ids=["route-fails", "netns-vanishes"])
async def test_failed_add_is_rolled_back_completely(the_lab: Lab, store_dir: Path, fault: Any) -> None:
    cfg = config()
    ns = the_lab.node(cfg, 1)
    _VanishingPod.lab = the_lab
    pod = the_lab.pod()
    cid = new_cid()
    async with running_node(cfg, ns, store_dir / "a.db", wrap={"linux/route/": fault}) as node:
        before = {lk["ifname"] for lk in ip_json(ns.path, "link", "show")}
        with pytest.raises(PodWiringError):
            await node.add(cid, pod)
        # a veth being undone is retired at once and deleted a moment later, in a batch
        await until(lambda: {lk["ifname"] for lk in ip_json(ns.path, "link", "show")} == before)
        assert ip_json(ns.path, "route", "show", "proto", "199") == []
        assert os.path.exists(pod) == (fault is _FailingPodRoute)
        if os.path.exists(pod):
            await until(lambda: [lk["ifname"] for lk in ip_json(pod, "link", "show")] == ["lo"])
        assert node.controller.pods.attachments == {}
        assert len(node.controller.pods.allocator) == 0  # the address was released
