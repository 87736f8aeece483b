"""The emulator as a process, driven by vpp_papi's plain synchronous client.

Started exactly as documented: `python -m contivctl.testing.vppemu --socket PATH --nic NAME`.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vpp_papi import VPPApiClient

from contivctl.testing.vppemu.apidefs import default_api_dir

NIC = "GigabitEthernet0/8/0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emulator_process(sockdir: Path) -> Iterator[str]:
    sock = str(sockdir / "x.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", sock, "--nic", NIC],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
            assert time.monotonic() < deadline, "emulator did not create its socket"
            time.sleep(0.02)
        yield sock
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == 0
    assert not os.path.exists(sock)  # the emulator removes its socket on exit


@pytest.fixture
def papi(emulator_process: str) -> Iterator[Any]:
    client = VPPApiClient(apidir=default_api_dir(), use_socket=True, server_address=emulator_process)
    assert client.connect("acceptance") == 0
    try:
        yield client
    finally:
        client.disconnect()


def test_acceptance_sync_client(papi: Any) -> None:
    ver = papi.api.show_version()
    assert (ver.retval, ver.program, ver.version) == (0, "vpe", "26.06-release")

    lo = papi.api.create_loopback(mac_address="02:00:00:00:00:01")
    assert lo.retval == 0
    ifaces = {d.sw_if_index: d for d in papi.api.sw_interface_dump(sw_if_index=0xFFFFFFFF)}
    assert [ifaces[i].interface_name for i in sorted(ifaces)] == ["local0", NIC, "loop0"]
    assert str(ifaces[lo.sw_if_index].l2_address) == "02:00:00:00:00:01"

    r = papi.api.sw_interface_add_del_address(sw_if_index=lo.sw_if_index, is_add=True, prefix="10.1.1.1/24")
    assert r.retval == 0
    dup = papi.api.sw_interface_add_del_address(sw_if_index=1, is_add=True, prefix="10.1.1.1/24")
    assert dup.retval == -105
    assert papi.api.sw_interface_set_flags(sw_if_index=lo.sw_if_index, flags=1).retval == 0
    addrs = papi.api.ip_address_dump(sw_if_index=lo.sw_if_index, is_ipv6=False)
    assert [a.prefix for a in addrs] == [ipaddress.ip_interface("10.1.1.1/24")]

    nh = {
        "sw_if_index": 0xFFFFFFFF,
        "table_id": 0,
        "nh": {"address": {"ip4": "10.1.1.254"}},
        "label_stack": [{}] * 16,
    }
    add = papi.api.ip_route_add_del(
        is_add=True, route={"table_id": 0, "prefix": "10.2.0.0/16", "n_paths": 1, "paths": [nh]}
    )
    assert add.retval == 0
    missing_table = papi.api.ip_route_add_del(
        is_add=True, route={"table_id": 42, "prefix": "10.2.0.0/16", "n_paths": 1, "paths": [nh]}
    )
    assert missing_table.retval == -3
    routes = {str(d.route.prefix): d.route for d in papi.api.ip_route_dump(table={"table_id": 0})}
    assert str(routes["10.2.0.0/16"].paths[0].nh.address.ip4) == "10.1.1.254"
    assert routes["10.1.1.0/24"].paths[0].sw_if_index == lo.sw_if_index  # connected, interface is up
    assert routes["10.1.1.1/32"].paths[0].type == 1  # local

    assert papi.api.ip_route_add_del(is_add=False, route={"table_id": 0, "prefix": "10.2.0.0/16"}).retval == 0
    assert "10.2.0.0/16" not in {str(d.route.prefix) for d in papi.api.ip_route_dump(table={"table_id": 0})}


def test_sync_client_receives_events(papi: Any) -> None:
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    papi.register_event_callback(lambda name, msg: events.put((name, msg)))
    assert papi.api.want_interface_events(enable_disable=1, pid=os.getpid()).retval == 0
    assert papi.api.sw_interface_set_flags(sw_if_index=1, flags=1).retval == 0
    name, msg = events.get(timeout=10)
    assert name == "sw_interface_event"
    assert (msg.sw_if_index, int(msg.flags), msg.pid) == (1, 3, os.getpid())
