"""``kill -9`` of the agent while it drains the DELs contiv-cni queued, then a restart.

The agent is the ``contivctl agent`` process, and the VPP emulator a process
too (``tests/cni/slow_vpp.py``: each af_packet_delete, a pod's DEL, takes
a while), both in a network namespace of the test's (``dq-node-…``), which
takes everything they made on the host side with it. The pods are
namespaces of their own; the real contiv-cni ADDs them, then DELs some of
them while no agent runs. The agent started next is killed when some of
those DELs are done and some are not; the one after it must do the rest,
before it serves, and leave nothing behind: no attachment, address or VPP
interface of a deleted pod, and every other pod as it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from contivctl.controller.podstore import PodStore
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.kv.local import LocalStore
from contivctl.render import naming
from tests.agent.support import API_DIR, ip_json, link_exists, vpp_interfaces
from tests.agent.test_metrics import free_port
from tests.cni.delq_support import CONFIG, DqPods
from tests.cni.support import ROOT, cni_env, netconf, run
from tests.polling import until

pytestmark = pytest.mark.usefixtures("contiv_cni")

if os.geteuid() != 0:
    pytest.skip("the agent's pods need root", allow_module_level=True)

KEPT = 4
DELETED = 40
#: seconds VPP takes for each af_packet_delete: a batch of pod DELs takes a while
DELAY = 0.1
NODE = "dq-node"


@pytest.fixture
def top() -> Iterator[Path]:
    """Short (unix socket paths), and the test's own: ``/tmp/dq-…``."""
    d = Path(tempfile.mkdtemp(prefix="dq-", dir="/tmp"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def node_ns() -> Iterator[str]:
    name = f"dq-node-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)  # the agent's REST is on 127.0.0.1
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def dq_pods() -> Iterator[DqPods]:
    p = DqPods()
    try:
        yield p
    finally:
        p.cleanup()


@contextlib.asynccontextmanager
async def process(netns: str, argv: list[str], log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``argv`` in ``netns``, its output to ``log``; killed at the end if it still runs."""
    with log.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", netns, *argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0


async def test_an_agent_killed_while_draining_leaves_the_rest_to_the_next_and_nothing_behind(
    top: Path, node_ns: str, dq_pods: DqPods
) -> None:
    vpp_sock, cni_sock, store = top / "vpp.sock", top / "cni.sock", top / "agent.db"
    (top / "contiv.yaml").write_text(CONFIG)
    emulator = [sys.executable, "-m", "tests.cni.slow_vpp", "--socket", str(vpp_sock)]
    emulator += ["--message", "af_packet_delete", "--delay", str(DELAY)]
    agent = [
        *(sys.executable, "-m", "contivctl", "agent", "--config", str(top / "contiv.yaml")),
        *("--node-name", NODE, "--node-id", "5", "--store", str(store), "--no-kubernetes"),
        *("--vpp-socket", str(vpp_sock), "--vpp-api-dir", API_DIR, "--cni-socket", str(cni_sock)),
        *("--http", f"127.0.0.1:{free_port()}"),
    ]
    conf = netconf(str(cni_sock), "1.1.0")
    queue = top / "cni-del-queue"

    async def serving() -> bool:
        return (await run(cni_env("STATUS", ifname=""), conf)).rc == 0

    pods = [(dq_pods.netns(), dq_pods.cid()) for _ in range(KEPT + DELETED)]
    kept, deleted = pods[:KEPT], pods[KEPT:]
    async with process(node_ns, emulator, top / "vppemu.log") as emu:
        await until(vpp_sock.exists, timeout=30)

        # the pods, wired by an agent that then stops (they stay wired)
        async with process(node_ns, agent, top / "agent-1.log") as first:
            await until(serving, timeout=60, step=0.1)
            ips = {}
            for netns, cid in pods:
                added = await run(cni_env("ADD", cid, netns), conf)
                assert added.rc == 0, added.stderr
                ips[cid] = added.json["ips"][0]["address"].split("/")[0]
            await stop(first)

        # DELs while no agent runs: each is queued and succeeds
        for batch in range(0, DELETED, 10):
            done = await asyncio.gather(*(run(cni_env("DEL", c, n), conf) for n, c in deleted[batch : batch + 10]))
            assert {(d.rc, d.stdout) for d in done} == {(0, "")}, [d.stderr for d in done]
        assert len(os.listdir(queue)) == DELETED

        # an agent that is killed while it drains: some DELs done, some not
        async with process(node_ns, agent, top / "agent-2.log") as second:
            await until(lambda: len(os.listdir(queue)) < DELETED, timeout=60)
            os.kill(second.pid, signal.SIGKILL)
            await second.wait()
        left = set(os.listdir(queue))
        assert 0 < len(left) < DELETED, "the kill must land inside the drain"
        assert not await serving()

        # the next agent does the rest before it serves
        async with process(node_ns, agent, top / "agent-3.log") as third:
            await until(serving, timeout=60, step=0.05)
            assert os.listdir(queue) == []  # all done by the time it serves anything
            await stop(third)
        log3 = (top / "agent-3.log").read_text()
        redone = set(re.findall(r"queued DEL of (\w+)/eth0 done", log3))
        assert len(redone) == len(left), log3  # one line per DEL it did
        assert f"DEL queue {queue}: {len(left)} done, 0 failed (kept for the next drain), 0 set aside" in log3

        # nothing of the deleted pods is left, nothing of the others is harmed
        db = await LocalStore.open(store)
        try:
            atts = {a.container_id: a for a in await PodStore(db, NODE).load()}
        finally:
            await db.close()
        assert {cid: str(a.ip) for cid, a in atts.items()} == {cid: ips[cid] for _, cid in kept}
        vpp = VPPConnection(str(vpp_sock), api_dir=API_DIR, timeout=5)
        await vpp.start(wait=10)
        try:
            names = set(await vpp_interfaces(vpp))
        finally:
            await vpp.close()
        assert {naming.vpp_pod_if_name(cid, "eth0") for _, cid in kept} <= names
        assert not {naming.vpp_pod_if_name(cid, "eth0") for _, cid in deleted} & names
        for netns, cid in kept:
            addrs = ip_json(netns, "addr", "show", "eth0")[0]["addr_info"]
            assert ips[cid] in [a["local"] for a in addrs]

        def deleted_pods_unwired() -> bool:
            return not any(link_exists(netns, "eth0") for netns, _ in deleted)

        await until(deleted_pods_unwired)
        await stop(emu)
