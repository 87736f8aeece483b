"""The real contiv-cni executable against a running agent: VPP emulator, real namespaces, the real unix socket."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import Pods, ip_json, link_exists, vpp_interfaces
from tests.cni.support import ROOT, VERSIONS, cni_env, netconf, run, running_agent
from tests.polling import until

pytestmark = pytest.mark.usefixtures("contiv_cni")

if os.geteuid() != 0:
    pytest.skip("CNI tests against the agent need root", allow_module_level=True)

GW = "10.1.5.1"


def expected_result(version: str, cid: str, netns: str, ip: str) -> dict[str, object]:
    address: dict[str, object] = {"interface": 0, "address": f"{ip}/32", "gateway": GW}
    if version < "1.0.0":
        address = {"version": "4", **address}
    return {
        "cniVersion": version,
        "interfaces": [{"name": "eth0", "mac": naming.pod_side_mac(cid, "eth0"), "sandbox": netns}],
        "ips": [address],
        "routes": [{"dst": "0.0.0.0/0", "gw": GW}],
        "dns": {},
    }


async def test_add_answers_in_every_supported_version_and_del_removes_the_pod(
    emu: Emulator, pods: Pods, sockdir: Path
) -> None:
    async with running_agent(emu, sockdir) as agent:
        for n, version in enumerate(VERSIONS):
            netns, cid = pods.netns(), pods.cid()
            conf = netconf(agent.socket, version)
            added = await run(cni_env("ADD", cid, netns), conf)
            assert added.rc == 0, (version, added.stdout, added.stderr)
            ip = f"10.1.5.{2 + n}"  # each pod is deleted only after the next one got its address
            result = added.json
            assert result == expected_result(version, cid, netns, ip), version
            assert list(result["ips"][0]) == list(expected_result(version, cid, netns, ip)["ips"][0])  # type: ignore[index]
            addrs = ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
            assert [(a["local"], a["prefixlen"]) for a in addrs if a["family"] == "inet"] == [(ip, 32)]
            attachment = agent.node.controller.pods.attachments
            assert [(a.pod.namespace, a.pod.name, a.uid) for a in attachment.values() if a.container_id == cid] == [
                ("default", f"pod-{cid[:6]}", f"u-{cid[:6]}")
            ]

        for netns, cid in zip(pods.namespaces, pods.container_ids, strict=True):
            path = f"/var/run/netns/{netns}"
            deleted = await run(cni_env("DEL", cid, path), netconf(agent.socket, "1.1.0"))
            assert (deleted.rc, deleted.stdout) == (0, ""), deleted.stderr
            await until(lambda path=path: not link_exists(path, "eth0"))
            assert naming.vpp_pod_if_name(cid, "eth0") not in await vpp_interfaces(agent.node.vpp)
        assert agent.node.controller.pods.attachments == {}
        again = await run(cni_env("DEL", pods.container_ids[0], ""), netconf(agent.socket))
        assert (again.rc, again.stdout) == (0, ""), again.stderr  # repeated DEL, no netns: still success


async def test_check_passes_on_a_wired_pod_and_names_a_route_deleted_behind_the_agents_back(
    emu: Emulator, pods: Pods, sockdir: Path
) -> None:
    async with running_agent(emu, sockdir) as agent:
        netns, cid = pods.netns(), pods.cid()
        added = await run(cni_env("ADD", cid, netns), netconf(agent.socket))
        assert added.rc == 0, added.stderr
        conf = netconf(agent.socket, prevResult=added.json)
        ok = await run(cni_env("CHECK", cid, netns), conf)
        assert (ok.rc, ok.stdout) == (0, ""), ok.stderr

        wrong_prev = netconf(agent.socket, prevResult={**added.json, "ips": []})
        err = (await run(cni_env("CHECK", cid, netns), wrong_prev)).error()
        assert err["code"] == 100 and "10.1.5.2/32" in err["msg"]

        subprocess.run(["ip", "-n", os.path.basename(netns), "route", "del", "default"], check=True)
        err = (await run(cni_env("CHECK", cid, netns), conf)).error()
        assert err["code"] == 100
        assert "linux/route/" in err["msg"] and "0.0.0.0/0: missing" in err["msg"], err["msg"]
        assert "eth0" not in err["msg"].split("0.0.0.0/0")[1]  # only the route is named

        unknown = (await run(cni_env("CHECK", pods.cid(), netns), conf)).error()
        assert unknown["code"] == 3


async def test_status_before_and_after_the_startup_resync(emu: Emulator, pods: Pods, sockdir: Path) -> None:
    async with running_agent(emu, sockdir, start=False, ready_timeout=0.3) as agent:
        conf = netconf(agent.socket)
        err = (await run(cni_env("STATUS", ifname=""), conf)).error()
        assert err["code"] == 50 and "startup resync" in err["msg"]
        netns, cid = pods.netns(), pods.cid()
        early = (await run(cni_env("ADD", cid, netns), conf)).error()
        assert early["code"] == 11 and "startup resync" in early["msg"]
        assert agent.node.controller.pods.attachments == {}

        await agent.node.controller.start()
        ready = await run(cni_env("STATUS", ifname=""), conf)
        assert (ready.rc, ready.stdout) == (0, ""), ready.stderr
        added = await run(cni_env("ADD", cid, netns), conf)
        assert added.rc == 0, added.stderr


async def test_gc_removes_attachments_not_listed_valid_and_frees_their_addresses(
    emu: Emulator, pods: Pods, sockdir: Path
) -> None:
    async with running_agent(emu, sockdir) as agent:
        conf = netconf(agent.socket)
        keep_ns, keep = pods.netns(), pods.cid()
        stale_ns, stale = pods.netns(), pods.cid()
        for netns, cid in ((keep_ns, keep), (stale_ns, stale)):
            assert (await run(cni_env("ADD", cid, netns), conf)).rc == 0
        stale_ip = str(next(a.ip for a in agent.node.controller.pods.attachments.values() if a.container_id == stale))

        gc_conf = {**conf, "cni.dev/valid-attachments": [{"containerID": keep, "ifname": "eth0"}]}
        gc = await run(cni_env("GC", ifname=""), gc_conf)
        assert (gc.rc, gc.stdout) == (0, ""), gc.stderr
        assert [a.container_id for a in agent.node.controller.pods.attachments.values()] == [keep]
        assert link_exists(keep_ns, "eth0")
        await until(lambda: not link_exists(stale_ns, "eth0"))  # the kernel's veth deletes are batched
        vpp = await vpp_interfaces(agent.node.vpp)
        assert naming.vpp_pod_if_name(keep, "eth0") in vpp and naming.vpp_pod_if_name(stale, "eth0") not in vpp
        allocated = agent.node.controller.pods.allocator.allocations()
        assert list(allocated) == [f"{keep}/eth0"] and stale_ip not in {str(ip) for ip in allocated.values()}

        nothing_valid = await run(cni_env("GC", ifname=""), {**conf, "cni.dev/valid-attachments": []})
        assert nothing_valid.rc == 0, nothing_valid.stderr
        assert agent.node.controller.pods.attachments == {}
        await until(lambda: not link_exists(keep_ns, "eth0"))


def chain_from_example(socket: str, log: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two plugin configs a runtime derives from examples/10-contiv-vpp.conflist (the socket and log ours)."""
    conflist = json.loads((ROOT / "examples" / "10-contiv-vpp.conflist").read_text())
    common = {"cniVersion": conflist["cniVersion"], "name": conflist["name"]}
    contiv, portmap = ({**common, **p} for p in conflist["plugins"])
    assert (contiv["type"], portmap["type"]) == ("contiv-cni", "portmap")
    contiv.update(grpcServer=socket, logFile=str(log))
    portmap["runtimeConfig"] = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}
    return contiv, portmap


async def test_portmap_chained_after_contiv_cni_as_in_the_example_conflist(
    emu: Emulator, pods: Pods, sockdir: Path
) -> None:
    """The runtime's chain: contiv-cni's result is portmap's prevResult; DEL runs in reverse order."""
    node_ns = f"ctlnode-{uuid.uuid4().hex[:8]}"  # portmap's iptables rules go here, not on the host
    subprocess.run(["ip", "netns", "add", node_ns], check=True)
    try:
        async with running_agent(emu, sockdir) as agent:
            netns, cid = pods.netns(), pods.cid()
            contiv, portmap = chain_from_example(agent.socket, sockdir / "cni.log")
            added = await run(cni_env("ADD", cid, netns), contiv)
            assert added.rc == 0, added.stderr
            in_node = ["ip", "netns", "exec", node_ns, "/usr/lib/cni/portmap"]
            chained = await run(cni_env("ADD", cid, netns), {**portmap, "prevResult": added.json}, argv=in_node)
            assert chained.rc == 0, (chained.stdout, chained.stderr)
            assert chained.json == added.json  # portmap passes the result through
            rules = nat_rules(node_ns)
            assert "--to-destination 10.1.5.2:80" in rules, rules

            final = {"prevResult": chained.json}
            gone = await run(cni_env("DEL", cid, netns), {**portmap, **final}, argv=in_node)
            assert gone.rc == 0, gone.stderr
            assert "10.1.5.2:80" not in nat_rules(node_ns)
            deleted = await run(cni_env("DEL", cid, netns), {**contiv, **final})
            assert deleted.rc == 0, deleted.stderr
            assert agent.node.controller.pods.attachments == {}
            assert len((sockdir / "cni.log").read_text().splitlines()) == 2
    finally:
        subprocess.run(["ip", "netns", "del", node_ns], check=False)


def nat_rules(netns: str) -> str:
    out = subprocess.run(["ip", "netns", "exec", netns, "iptables", "-t", "nat", "-S"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout
