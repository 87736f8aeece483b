"""The agent's Prometheus metrics: the exposition passes promtool, and a real Prometheus scrapes the series."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from contivctl.agent.agent import Agent
from contivctl.agent.options import AgentOptions
from contivctl.metrics import AgentMetrics, trigger_class
from contivctl.reconcile.history import Mode, OpRecord, TxnKind, TxnRecord
from contivctl.testing.vppemu import Emulator
from tests.agent.support import API_DIR, Pods, eventually
from tests.cni.support import cni_env, netconf, run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "contiv.yaml"
EXPECTED = {
    "contivctl_build_info",
    "contivctl_cni_requests",
    "contivctl_cni_request_duration_seconds",
    "contivctl_cni_queued_dels",
    "contivctl_txn_duration_seconds",
    "contivctl_txn_operations",
    "contivctl_vpp_request_duration_seconds",
    "contivctl_vpp_request_errors",
    "contivctl_pods",
    "contivctl_nodes",
    "contivctl_items_failed",
    "contivctl_ipam_addresses_in_use",
    "contivctl_ipam_addresses_capacity",
    "contivctl_event_queue_depth",
    "contivctl_event_loop_lag_seconds",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record(trigger: str, kind: TxnKind = TxnKind.APPLY, ops: tuple[OpRecord, ...] = ()) -> TxnRecord:
    return TxnRecord(1, kind, trigger, Mode.REVERT, 0.0, (), ops=ops, done=True, duration=0.01)


@pytest.mark.parametrize(
    ("trigger", "kind", "cls"),
    [
        ("startup resync", TxnKind.RESYNC_FULL, "startup"),
        ("VPP restarted: pid changed", TxnKind.RESYNC_FULL, "resync"),
        ("retry", TxnKind.RETRY, "retry"),
        ("add default/web 1234/eth0", TxnKind.APPLY, "pod"),
        ("3 pod events from 17", TxnKind.APPLY, "pod"),
        ("delete 1234", TxnKind.APPLY, "pod"),
        ("node peer2 (ID 2) updated", TxnKind.APPLY, "node"),
        ("64 node events from 9", TxnKind.APPLY, "node"),
        ("NodeConfig of node1 applied", TxnKind.APPLY, "node"),
    ],
)
def test_a_trigger_becomes_one_of_a_few_label_values(trigger: str, kind: TxnKind, cls: str) -> None:
    assert trigger_class(record(trigger, kind)) == cls


def test_operations_are_counted_by_kind_and_result() -> None:
    m = AgentMetrics(version="0.1.0", dataplane="vpp")
    ops = (OpRecord("create", "a", "ok"), OpRecord("create", "b", "failed"), OpRecord("create", "c", "ok"))
    m.observe_txn(record("add x", ops=ops))
    found = {
        (s.labels["kind"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(m.exposition().decode())
        for s in family.samples
        if s.name == "contivctl_txn_operations_total"
    }
    assert found == {("create", "ok"): 2.0, ("create", "failed"): 1.0}


@contextlib.asynccontextmanager
async def agent_of(emu: Emulator, sockdir: Path, tmp_path: Path) -> AsyncIterator[tuple[Agent, int]]:
    port = free_port()
    agent = Agent(
        AgentOptions(
            config=EXAMPLE,
            node_name="node-a",
            store=tmp_path / "agent.db",
            vpp_socket=emu.socket_path,
            vpp_api_dir=API_DIR,
            cni_socket=str(sockdir / "cni.sock"),
            http=f"127.0.0.1:{port}",
            no_kubernetes=True,
        )
    )
    await agent.start()
    try:
        yield agent, port
    finally:
        await agent.stop()


@contextlib.contextmanager
def prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    """A real Prometheus scraping ``target`` every half second; its HTTP API's base URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus is needed (apt-get install prometheus; .ci/run installs it)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 500ms, scrape_timeout: 400ms}\n"
        f"scrape_configs:\n  - job_name: contivctl\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    listen = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={listen}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://{listen}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def query(base: str, expr: str) -> list[dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{base}/api/v1/query?query={expr}", timeout=2) as resp:
            return list(json.loads(resp.read())["data"]["result"])
    except OSError:
        return []  # not listening yet


async def test_prometheus_scrapes_the_agent(
    emu: Emulator, sockdir: Path, tmp_path: Path, pods: Pods, contiv_cni: str
) -> None:
    async with agent_of(emu, sockdir, tmp_path) as (_agent, port):
        cid, netns = pods.cid(), pods.netns()
        added = await run(cni_env("ADD", cid, netns), netconf(str(sockdir / "cni.sock")))
        assert added.rc == 0, added.stderr

        text = await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics")  # the agent runs on this loop
        assert {f.name for f in text_string_to_metric_families(text)} >= EXPECTED
        checked = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr

        with prometheus(tmp_path, f"127.0.0.1:{port}") as base:

            async def scraped() -> bool:
                found = await asyncio.to_thread(query, base, 'contivctl_cni_requests_total{command="ADD"}')
                return bool(found)

            await eventually(scraped, timeout=60)
            (pods_now,) = await asyncio.to_thread(query, base, "contivctl_pods")
            assert pods_now["value"][1] == "1"
            (ok,) = await asyncio.to_thread(query, base, 'contivctl_cni_requests_total{command="ADD"}')
            assert ok["metric"]["result"] == "ok" and ok["value"][1] == "1"
            assert await asyncio.to_thread(query, base, "contivctl_vpp_request_duration_seconds_count")
            assert await asyncio.to_thread(query, base, 'contivctl_txn_duration_seconds_count{trigger="startup"}')
