"""A DEL while the agent is down: the real contiv-cni queues it, the real agent does it before it serves.

The agent is ``contivctl.agent.agent.Agent``, the assembly ``contivctl
agent`` runs, in the test's loop against the VPP emulator, with the pod
renderers only (the host interconnect and the NICs are other tests'
business, and stay out of the machine's namespace). Pods are network
namespaces of the test (``dq-…``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.agent.vpp import VppParts
from contivctl.cni.delqueue import file_name
from contivctl.controller.podstore import PodStore
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.model import AttachmentKey
from contivctl.render import naming
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, PODS_ONLY, link_exists, vpp_interfaces
from tests.agent.test_metrics import free_port
from tests.cni.delq_support import CONFIG, DqPods
from tests.cni.support import cni_env, netconf, run
from tests.polling import until

pytestmark = pytest.mark.usefixtures("contiv_cni")

if os.geteuid() != 0:
    pytest.skip("the agent's pods need root", allow_module_level=True)


@pytest.fixture
def sockdir() -> Iterator[Path]:
    """Short (unix socket paths), and the test's own: ``/tmp/dq-…``."""
    d = Path(tempfile.mkdtemp(prefix="dq-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def dq_pods() -> Iterator[DqPods]:
    p = DqPods()
    try:
        yield p
    finally:
        p.cleanup()


def options(emu: Emulator, sockdir: Path, tmp_path: Path) -> AgentOptions:
    config = tmp_path / "contiv.yaml"
    config.write_text(CONFIG)
    return AgentOptions(
        config=config,
        # a name of the test's own: the agent's links in this (the machine's) namespace carry a device
        # group derived from it, and another agent of the same name would take them for its own
        node_name=f"dq-node-{uuid.uuid4().hex[:8]}",
        store=tmp_path / "agent.db",
        vpp_socket=emu.socket_path,
        vpp_api_dir=API_DIR,
        cni_socket=str(sockdir / "cni.sock"),
        http=f"127.0.0.1:{free_port()}",
        no_kubernetes=True,
    )


def new_agent(opts: AgentOptions) -> Agent:
    agent = Agent(opts)
    assert isinstance(agent.parts, VppParts)
    agent.parts.renderers = PODS_ONLY  # what tests/agent's nodes render
    return agent


def vpp_of(agent: Agent) -> VPPConnection:
    assert isinstance(agent.parts, VppParts)
    return agent.parts.vpp


@contextlib.asynccontextmanager
async def started(opts: AgentOptions) -> AsyncIterator[Agent]:
    agent = new_agent(opts)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop()


def metric(agent: Agent, result: str) -> float:
    value = agent.metrics.registry.get_sample_value("contivctl_cni_queued_dels_total", {"result": result})
    return -1.0 if value is None else value


async def test_a_del_while_the_agent_is_down_is_done_before_the_restarted_agent_serves_anything(
    emu: Emulator, dq_pods: DqPods, sockdir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    opts = options(emu, sockdir, tmp_path)
    conf = netconf(opts.cni_socket, "1.0.0")
    gone_ns, gone = dq_pods.netns(), dq_pods.cid()
    kept_ns, kept = dq_pods.netns(), dq_pods.cid()
    async with started(opts):
        for netns, cid in ((gone_ns, gone), (kept_ns, kept)):
            added = await run(cni_env("ADD", cid, netns), conf)
            assert added.rc == 0, added.stderr

    # the agent is down: the socket is gone, the pods stay wired
    assert not Path(opts.cni_socket).exists() and link_exists(gone_ns, "eth0")
    deleted = await run(cni_env("DEL", gone, gone_ns), conf)
    assert (deleted.rc, deleted.stdout, deleted.stderr) == (0, "", "")
    queue = opts.del_queue_dir
    assert queue == sockdir / "cni-del-queue"  # beside the socket, where the plugin put it by default
    (queued,) = os.listdir(queue)
    assert queued == file_name(gone, "eth0")
    assert json.loads((queue / queued).read_text())["netns"] == gone_ns
    (queue / "half-written.json").write_text('{"format": 1, "containerId": "')  # not a queued DEL
    # an ADD still fails at once, and queues nothing
    late_ns, late = dq_pods.netns(), dq_pods.cid()
    early = (await run(cni_env("ADD", late, late_ns), conf)).error()
    assert early["code"] == 11 and "cannot reach the agent" in early["msg"]
    assert sorted(os.listdir(queue)) == sorted([queued, "half-written.json"])

    # The agent starts again; its drain is slowed down (VPP takes a second to delete the pod's
    # interface), so that the calls below arrive while it runs.
    slow = emu.faults.delay(1.0, "af_packet_delete", times=1)
    agent = new_agent(opts)
    starting = asyncio.create_task(agent.start())
    try:
        await until(lambda: agent.node is not None and agent.node.controller.ready.is_set(), timeout=30)
        assert agent.node is not None
        controller = agent.node.controller
        # the socket answers, but serves nothing yet
        status = (await run(cni_env("STATUS", ifname=""), netconf(opts.cni_socket, "1.1.0"))).error()
        assert status["code"] == 50 and "queued" in status["msg"], status
        assert agent.readiness() == (False, "the DELs contiv-cni queued are being done")
        with caplog.at_level(logging.INFO, logger="contivctl.cni.delqueue"):
            added = await run(cni_env("ADD", late, late_ns), conf)
            # answered only after the queued DEL was done: the pod, its interfaces and its address are gone
            assert added.rc == 0, added.stderr
            assert slow.fired == 1
            keys = {a.container_id for a in controller.pods.attachments.values()}
            assert keys == {kept, late}
            # its address is free: only the two pods left hold one
            assert set(controller.pods.allocator.allocations()) == {f"{kept}/eth0", f"{late}/eth0"}
            assert agent.store is not None and len(await PodStore(agent.store, opts.node_name).load()) == 2
            vpp = await vpp_interfaces(vpp_of(agent))
            assert naming.vpp_pod_if_name(gone, "eth0") not in vpp
            assert naming.vpp_pod_if_name(kept, "eth0") in vpp
            assert sorted(os.listdir(queue)) == ["bad-half-written.json"]  # set aside, never retried
        await starting
        await until(lambda: not link_exists(gone_ns, "eth0"))  # the kernel deletes retired veths a moment later
        assert link_exists(kept_ns, "eth0")
        assert agent.readiness() == (True, "ready")
        assert (metric(agent, "ok"), metric(agent, "bad"), metric(agent, "failed")) == (1.0, 1.0, 0.0)
        (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("queued DEL of")]
        assert line.startswith(f"queued DEL of {gone}/eth0 done (network namespace {gone_ns}; queued at ")
    finally:
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        await agent.stop()


async def test_an_add_after_a_queued_del_of_its_attachment_is_wired_afresh_and_stays(
    emu: Emulator, dq_pods: DqPods, sockdir: Path, tmp_path: Path
) -> None:
    """The runtime was told the DEL succeeded, so it may ADD the same attachment again: the DEL goes first."""
    opts = options(emu, sockdir, tmp_path)
    conf = netconf(opts.cni_socket, "1.0.0")
    queue = opts.del_queue_dir
    async with started(opts) as agent:
        assert agent.node is not None and agent.del_queue is not None
        pods = agent.node.controller.pods
        netns, cid = dq_pods.netns(), dq_pods.cid()
        assert (await run(cni_env("ADD", cid, netns), conf)).rc == 0
        # a DEL whose plugin found no agent (queued into this agent's queue: the race around a restart)
        missed = netconf(str(sockdir / "gone.sock"), "1.0.0", delQueueDir=str(queue))
        assert (await run(cni_env("DEL", cid, netns), missed)).rc == 0
        assert os.listdir(queue) == [file_name(cid, "eth0")]
        before = pods.attachments[AttachmentKey(cid, "eth0")]

        again = await run(cni_env("ADD", cid, netns), conf)
        assert again.rc == 0, again.stderr
        assert os.listdir(queue) == []  # the queued DEL was done first
        after = pods.attachments[AttachmentKey(cid, "eth0")]
        assert after is not before  # a new attachment, not the old one's answer repeated
        assert metric(agent, "ok") == 1.0
        assert not await agent.del_queue.drain()  # nothing left that would take the new one away
        assert AttachmentKey(cid, "eth0") in pods.attachments
        await until(lambda: link_exists(netns, "eth0"))
        assert naming.vpp_pod_if_name(cid, "eth0") in await vpp_interfaces(vpp_of(agent))
