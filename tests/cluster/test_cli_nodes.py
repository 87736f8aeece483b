"""``contivctl nodes`` and ``contivctl node remove`` as an operator runs them, against a real etcd."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from contivctl.cluster.record import id_key
from contivctl.testing.etcd import EtcdServer, free_port
from tests.cluster.test_nodeid import ORIGINAL_RECORD

ROOT = Path(__file__).resolve().parents[2]


def contivctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("CONTIV_ETCD", "ETCD_CONFIG")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "contivctl", *args], capture_output=True, text=True, cwd=ROOT, env=full_env, timeout=60
    )


def seed(etcd: EtcdServer, items: dict[str, bytes]) -> None:
    from tests.cluster.conftest import store_for

    async def run() -> None:
        store = store_for(etcd)
        try:
            for key, value in items.items():
                await store.put(key, value)
        finally:
            await store.close()

    asyncio.run(run())


def keys(etcd: EtcdServer, prefix: str) -> set[str]:
    from tests.cluster.conftest import store_for

    async def run() -> set[str]:
        store = store_for(etcd)
        try:
            return set(await store.list(prefix))
        finally:
            await store.close()

    return asyncio.run(run())


WORKER = b'{"id":2,"name":"k8s-worker1","ip_addresses":["192.168.16.2/24"]}'


def test_nodes_lists_every_record(etcd: EtcdServer) -> None:
    seed(etcd, {id_key(1): ORIGINAL_RECORD, id_key(2): WORKER})
    res = contivctl("nodes", "--etcd", etcd.endpoint, "-o", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [
        {"id": 1, "name": "k8s-master", "nodeIPs": ["192.168.16.1/24"], "managementIPs": ["10.20.0.2"]},
        {"id": 2, "name": "k8s-worker1", "nodeIPs": ["192.168.16.2/24"], "managementIPs": []},
    ]
    table = contivctl("nodes", "--etcd", etcd.endpoint)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "NODE_IPS", "MANAGEMENT_IPS"]
    assert lines[1].split() == ["1", "k8s-master", "192.168.16.1/24", "10.20.0.2"]
    assert lines[2].split() == ["2", "k8s-worker1", "192.168.16.2/24", "-"]
    as_yaml = contivctl("nodes", "-o", "yaml", env={"CONTIV_ETCD": etcd.endpoint})
    assert yaml.safe_load(as_yaml.stdout)[1]["name"] == "k8s-worker1"


def test_nodes_reads_the_original_etcd_conf(etcd: EtcdServer, tmp_path: Path) -> None:
    seed(etcd, {id_key(1): ORIGINAL_RECORD})
    conf = tmp_path / "etcd.conf"
    conf.write_text(f"insecure-transport: true\ndial-timeout: 10000000000\nendpoints:\n  - {etcd.endpoint}\n")
    res = contivctl("nodes", "-o", "json", env={"ETCD_CONFIG": str(conf)})
    assert res.returncode == 0, res.stderr
    assert [n["name"] for n in json.loads(res.stdout)] == ["k8s-master"]


def test_node_remove_takes_its_record_and_data_and_is_idempotent(etcd: EtcdServer) -> None:
    seed(
        etcd,
        {
            id_key(1): ORIGINAL_RECORD,
            id_key(2): WORKER,
            "/vnf-agent/k8s-worker1/config/vpp/v2/interfaces/tap1": b"{}",
            "/vnf-agent/k8s-worker1/contiv/pods/x": b"{}",
            "/vnf-agent/k8s-worker10/config/keep": b"{}",  # a node whose name merely starts the same
            "/vnf-agent/k8s-master/config/keep": b"{}",
        },
    )
    res = contivctl("node", "remove", "k8s-worker1", "--etcd", etcd.endpoint)
    assert res.returncode == 0, res.stderr
    assert "ID 2" in res.stdout and "2 data keys" in res.stdout
    assert keys(etcd, "/vnf-agent/") == {
        id_key(1),
        "/vnf-agent/k8s-worker10/config/keep",
        "/vnf-agent/k8s-master/config/keep",
    }
    again = contivctl("node", "remove", "k8s-worker1", "--etcd", etcd.endpoint)
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stdout


def test_errors_are_one_line_with_exit_codes(etcd: EtcdServer) -> None:
    down = contivctl("nodes", "--etcd", f"127.0.0.1:{free_port()}")
    assert down.returncode == 1 and down.stderr.startswith("contivctl: etcd not reachable")
    assert len(down.stderr.strip().splitlines()) == 1
    missing = contivctl("nodes")
    assert missing.returncode == 2 and "--etcd" in missing.stderr
    bad_name = contivctl("node", "remove", "contiv-ksr", "--etcd", etcd.endpoint)
    assert bad_name.returncode == 2 and "cannot be a node name" in bad_name.stderr
    assert keys(etcd, "/vnf-agent/") == set()
