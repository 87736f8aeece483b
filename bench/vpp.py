"""Messages per second through the VPP driver against the emulator (in its own process).

Prints one JSON line per measurement: {"metric", "value", "unit"}. Each
message kind is measured on its own, serially (await one reply before the
next request) and pipelined (batches sent before any reply is awaited).

    python bench/vpp.py [--count N] [--batch B]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contivctl.dataplane.vpp.connection import VPPConnection  # noqa: E402

API_DIR = str(ROOT / "contivctl" / "testing" / "vppemu" / "api")
NO_LABELS: list[dict[str, int]] = [{}] * 16

Request = tuple[str, dict[str, Any]]


def emit(metric: str, value: float, unit: str) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 1), "unit": unit}), flush=True)


def route_add(i: int, is_add: bool = True) -> Request:
    dst = ipaddress.IPv4Address("10.128.0.0") + i
    path = {"sw_if_index": 0xFFFFFFFF, "table_id": 0, "nh": {"address": {"ip4": "10.0.0.1"}}, "label_stack": NO_LABELS}
    route = {"table_id": 0, "prefix": f"{dst}/32", "n_paths": 1, "paths": [path]}
    return ("ip_route_add_del", {"is_add": is_add, "is_multipath": False, "route": route})


async def serial(conn: VPPConnection, make: Callable[[int], Request], n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        name, fields = make(i)
        await conn.call(name, **fields)
    return n / (time.perf_counter() - t0)


async def pipelined(conn: VPPConnection, make: Callable[[int], Request], n: int, batch: int) -> float:
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        await conn.call_many([make(i) for i in range(start, min(n, start + batch))])
    return n / (time.perf_counter() - t0)


async def wait_for_socket(path: str, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        await asyncio.sleep(0.02)


async def main(count: int, batch: int) -> None:
    tmp = tempfile.mkdtemp(prefix="vppbench-", dir="/tmp")
    sock = os.path.join(tmp, "api.sock")
    proc = subprocess.Popen(
        [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", sock, "--nic", "GigabitEthernet0/8/0"],
        cwd=ROOT,
    )
    conn = VPPConnection(sock, api_dir=API_DIR, timeout=10.0)
    try:
        await wait_for_socket(sock, proc)
        t0 = time.perf_counter()
        await conn.start(wait=10)
        emit("connect", (time.perf_counter() - t0) * 1000, "ms")
        loop = await conn.call("create_loopback")

        def ping(_: int) -> Request:
            return ("control_ping", {})

        def version(_: int) -> Request:
            return ("show_version", {})

        def flags(i: int) -> Request:
            return ("sw_interface_set_flags", {"sw_if_index": loop.sw_if_index, "flags": i & 1})

        for name, make in (("control_ping", ping), ("show_version", version), ("sw_interface_set_flags", flags)):
            await pipelined(conn, make, batch, batch)  # warm-up
            emit(f"{name}.serial", await serial(conn, make, count // 2), "msg/s")
            emit(f"{name}.pipelined", await pipelined(conn, make, count, batch), "msg/s")
        n = count // 2
        emit("ip_route_add_del.serial", await serial(conn, route_add, n), "msg/s")
        emit("ip_route_add_del.pipelined", await pipelined(conn, lambda i: route_add(n + i), n, batch), "msg/s")
        t0 = time.perf_counter()
        dumped = await conn.dump("ip_route_dump", table={"table_id": 0, "is_ip6": False})
        emit("ip_route_dump.details", len(dumped) / (time.perf_counter() - t0), "msg/s")
    finally:
        await conn.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=10000, help="messages per pipelined measurement")
    p.add_argument("--batch", type=int, default=100, help="requests in flight per batch")
    a = p.parse_args()
    asyncio.run(main(a.count, a.batch))
