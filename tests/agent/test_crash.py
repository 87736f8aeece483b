"""``kill -9`` of the agent in the middle of a burst of ADDs, then a restart.

Afterwards every answered pod must be wired, no address may be leaked and
no interface may be left over from an ADD that was never answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from contivctl.render import naming
from tests.agent.support import (
    Pods,
    _Remote,
    config,
    ip_json,
    link_exists,
    make_node,
    stop_node,
    vpp_interfaces,
)
from tests.polling import until

ROOT = Path(__file__).resolve().parents[2]
PODS = 24
KILL_AFTER = 10


async def wait_for(predicate: object, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.01)


async def test_kill_9_during_a_burst_leaves_no_leak_and_every_answered_pod_wired(
    pods: Pods, sockdir: Path, tmp_path: Path
) -> None:
    sock = sockdir / "vpp.sock"
    emulator = subprocess.Popen([sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(sock)], cwd=ROOT)
    agent: subprocess.Popen[bytes] | None = None
    try:
        await wait_for(sock.exists)
        namespaces = [pods.netns() for _ in range(PODS)]
        cids = [pods.cid() for _ in range(PODS)]
        answers = tmp_path / "answers"
        answers.touch()
        store = tmp_path / "store.db"
        agent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.agent.burst_agent",
                str(sock),
                str(store),
                str(answers),
                *(f"{cid}={ns}" for cid, ns in zip(cids, namespaces, strict=True)),
            ],
            cwd=ROOT,
        )
        await wait_for(lambda: len(answers.read_text().splitlines()) >= KILL_AFTER)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait()
        answered = dict(line.split() for line in answers.read_text().splitlines())
        assert KILL_AFTER <= len(answered) < PODS, "the kill must land inside the burst"

        node = await make_node(_Remote(str(sock)), store, config())  # type: ignore[arg-type]
        try:
            atts = {a.container_id: a for a in node.controller.pods.attachments.values()}
            # every answered ADD is wired, with the address it was answered with
            for cid, ip in answered.items():
                assert cid in atts, f"answered pod {cid} lost"
                assert str(atts[cid].ip) == ip
                addrs = ip_json(atts[cid].netns, "addr", "show", "eth0")[0]["addr_info"]
                assert ip in [a["local"] for a in addrs]
            # no leaked address: exactly the persisted attachments hold one
            assert sorted(str(ip) for ip in node.controller.pods.allocator.allocations().values()) == sorted(
                str(a.ip) for a in atts.values()
            )
            # no orphan interface, in VPP or in the vswitch namespace
            wanted = {naming.vpp_pod_if_name(cid, "eth0") for cid in atts}
            vpp_ifs = set(await vpp_interfaces(node.vpp)) - {"pod-gw-loop"}
            assert vpp_ifs == wanted
            orphans = [naming.host_veth_name(cid, "eth0") for cid in cids if cid not in atts]
            await until(lambda: not any(link_exists(None, name) for name in orphans))
            wired = {a.netns for a in atts.values()}

            def no_leftover() -> bool:
                # an orphan's pod end goes with its retired veth, deleted in a batch a moment later
                return not [ns for ns in namespaces if ns not in wired and link_exists(ns, "eth0")]

            await until(no_leftover)
        finally:
            await stop_node(node)
        again = await make_node(_Remote(str(sock)), store, config())  # type: ignore[arg-type]
        try:
            (record,) = [r for r in again.reconciler.history() if r.trigger == "startup resync"]
            assert record.ops == ()
        finally:
            await stop_node(again)
    finally:
        if agent is not None and agent.poll() is None:
            agent.kill()
            agent.wait()
        emulator.terminate()
        emulator.wait(timeout=10)
