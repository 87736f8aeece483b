"""Services at scale: 1,000 Services of 10 endpoints each, in both dataplanes.

Run as root from the repository root: ``python bench/services.py``
(``--services N``, ``--endpoints M``, ``--rounds R``, ``--dataplane
vpp|kernel|both``). The bench moves itself into a network namespace of its
own first, so everything it makes (the VPP emulator's socket and host
links, the kernel dataplane's nftables table) is there, and goes with it.

One node's real controller, reconciler and drivers, in this process: VPP
mode against the VPP emulator (a child process: its time is the
emulator's, not the agent's, except for waiting on its answers), kernel
mode against nftables in a namespace of its own. The Services are
ClusterIP ones (one frontend each), their endpoints on this node and
others, as the services file or Kubernetes would give them.

Prints one JSON line per figure ``{"metric", "value", "unit", ...}``;
figures over rounds are the median with ``min``/``max``:

- ``render_<N>x<M>``: the service view taking every Service and its
  EndpointSlice (rendering included), no dataplane;
- ``start_<N>x<M>``: the startup resync with the Services in the view (a
  first start with the services file): its time and operations (those on
  the Services' items apart); ``restart_<N>x<M>_service_operations``: the
  same again over what is there (0 expected), and the operations on
  anything else, by key;
- ``events_<N>x<M>``: the same Services arriving as events after the start
  (a watch's first list): until the last is applied;
- ``endpoint_add`` / ``endpoint_remove`` / ``endpoint_replace``: one
  endpoint of one Service changed, from the event's submission to its
  answer (the controller's queue, the view, the reconciler's transaction
  and the dataplane): operations (target: O(1), one per frontend) and
  time (target: < 20 ms);
- ``endpoint_change_ratio_<N>_vs_<n>``: the median change time with N
  Services over that with n = N/10 (1.0: independent of the number of
  Services).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contivctl.agent.kernel import KernelParts  # noqa: E402
from contivctl.agent.node import Node, assemble, stop_node  # noqa: E402
from contivctl.agent.parts import DataplaneParts  # noqa: E402
from contivctl.agent.vpp import VppParts  # noqa: E402
from contivctl.config import parse_config  # noqa: E402
from contivctl.controller import ServiceView  # noqa: E402
from contivctl.dataplane.vpp.connection import Backoff, VPPConnection  # noqa: E402
from contivctl.events import EndpointsUpdated, ServiceUpdated  # noqa: E402
from contivctl.ipam import node_setup  # noqa: E402
from contivctl.kv.local import LocalStore  # noqa: E402
from contivctl.model import Endpoint, EndpointPort, EndpointSlice, Service, ServicePort, ServiceRef  # noqa: E402
from contivctl.reconcile.history import TxnRecord  # noqa: E402
from contivctl.render import kernel as kernel_render  # noqa: E402
from contivctl.render import vpp as vpp_render  # noqa: E402
from contivctl.render.inputs import VswitchInputs  # noqa: E402
from contivctl.render.renderers import Renderers  # noqa: E402

API_DIR = ROOT / "contivctl" / "testing" / "vppemu" / "api"
NIC = "GigabitEthernet0/8/0"
NODE, OTHER = "node-a", "node-b"
CONFIG: dict[str, Any] = {
    "UseTAPInterfaces": True,  # the deployment's default (the original's contiv.yaml)
    "TCPstackDisabled": True,
    "MTUSize": 1450,
    "NatExternalTraffic": False,
    "ServiceLocalEndpointWeight": 2,
    "IPAMConfig": {
        "PodSubnetCIDR": "10.0.0.0/8",
        "PodNetworkPrefixLen": 16,
        "NodeInterconnectCIDR": "192.168.0.0/16",
        "VxlanCIDR": "100.64.0.0/16",
    },
}
CLONE_NEWNET = 0x40000000


def emit(metric: str, value: float, unit: str, **more: Any) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit, **more}), flush=True)


def emit_range(metric: str, values: list[float], unit: str, **more: Any) -> None:
    emit(metric, statistics.median(values), unit, min=round(min(values), 4), max=round(max(values), 4), **more)


# -- what is forwarded -----------------------------------------------------------------


def service(i: int) -> Service:
    ip = ipaddress.ip_address("10.96.0.0") + 1 + i
    return Service(
        ref=ServiceRef("bench", f"svc{i}"),
        cluster_ips=(ip,),
        ports=(ServicePort("http", "TCP", 80, 8080),),
    )


def endpoint_ip(i: int, j: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Endpoint j of Service i: node 5's pod subnet for the first two, node 6's for the others."""
    node = 5 if j < 2 else 6
    return ipaddress.ip_address(f"10.{node}.0.0") + 2 + i * 16 + j


def endpoints(i: int, count: int, *, skip: int = -1, extra: int = 0) -> EndpointSlice:
    eps = [Endpoint(endpoint_ip(i, j), NODE if j < 2 else OTHER) for j in range(count + extra) if j != skip]
    return EndpointSlice("bench", f"svc{i}-x", f"svc{i}", (EndpointPort("http", "TCP", 8080),), tuple(eps))


def fill(view: ServiceView, n: int, m: int) -> None:
    for i in range(n):
        view.set_service(service(i))
        view.set_slice(endpoints(i, m))


# -- the bench's own namespace -----------------------------------------------------------


def enter_own_netns(name: str) -> None:
    subprocess.run(["ip", "netns", "add", name], check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
    finally:
        os.close(fd)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


# -- one node ----------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def vpp_parts(workdir: Path) -> AsyncIterator[Callable[[], DataplaneParts]]:
    """The VPP emulator as a child process; parts that connect to it (a fresh connection per node)."""
    socket = workdir / "api.sock"
    emu = subprocess.Popen(
        [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(socket), "--nic", NIC],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not socket.exists():
            if emu.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the VPP emulator did not start")
            await asyncio.sleep(0.02)

        def parts() -> DataplaneParts:
            vpp = VPPConnection(str(socket), api_dir=str(API_DIR), timeout=30.0, backoff=Backoff(0.01, 0.1))
            return VppParts(vpp, scope=NODE, state_dir=workdir, wait=10)

        yield parts
    finally:
        emu.terminate()
        emu.wait(timeout=20)


@contextlib.asynccontextmanager
async def kernel_parts(workdir: Path) -> AsyncIterator[Callable[[], DataplaneParts]]:
    """A namespace playing the vswitch; parts of the kernel dataplane in it."""
    name = f"bsvck-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield lambda: KernelParts(f"/var/run/netns/{name}", scope=NODE)
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


_STORES: dict[int, LocalStore] = {}
#: seconds each node's startup resync took (``controller.start()``)
_STARTS: dict[int, float] = {}


async def node(parts: DataplaneParts, store_path: Path, fill_with: tuple[int, int] | None) -> Node:
    store = await LocalStore.open(store_path)
    built = await assemble(parts, parse_config(CONFIG), NODE, 5, store, services=True)
    _STORES[id(built)] = store
    if fill_with is not None:
        fill(built.controller.services, *fill_with)
    started = time.perf_counter()
    await built.controller.start()
    _STARTS[id(built)] = time.perf_counter() - started
    return built


async def close(built: Node) -> None:
    await stop_node(built)
    _STARTS.pop(id(built), None)
    await _STORES.pop(id(built)).close()


def startup(built: Node) -> TxnRecord:
    return next(r for r in built.reconciler.history() if r.trigger == "startup resync")


def last_txn(built: Node) -> TxnRecord:
    return built.reconciler.history()[-1]


# -- the figures ---------------------------------------------------------------------------


async def changes(built: Node, n: int, m: int, rounds: int, tag: str) -> list[float]:
    """One endpoint of one Service added, removed, replaced: operations and transaction time of each."""
    times: dict[str, list[float]] = {"endpoint_add": [], "endpoint_remove": [], "endpoint_replace": []}
    ops: dict[str, list[int]] = {k: [] for k in times}
    controller = built.controller
    for r in range(rounds):
        i = (r * 7919) % n  # spread over the Services
        steps = {
            "endpoint_add": endpoints(i, m, extra=1),
            "endpoint_remove": endpoints(i, m),
            "endpoint_replace": endpoints(i, m, skip=m - 1, extra=1),
        }
        for what, sl in steps.items():
            before = last_txn(built).seq
            started = time.perf_counter()
            await controller.submit(EndpointsUpdated(slice=sl))
            times[what].append((time.perf_counter() - started) * 1000)
            record = last_txn(built)
            assert record.seq == before + 1, "one transaction per change"
            assert all(o.outcome == "ok" for o in record.ops), record.ops
            ops[what].append(len(record.ops))
        await controller.submit(EndpointsUpdated(slice=endpoints(i, m)))  # back as it was
    for what in times:
        emit_range(f"{tag}_{what}_ms", times[what], "ms", services=n, endpoints=m, target="< 20")
        emit(f"{tag}_{what}_operations", max(ops[what]), "ops", services=n, min=min(ops[what]), target="O(1)")
    return times["endpoint_replace"]


async def bench(
    tag: str, renderers: Renderers, make_parts: Callable[[], DataplaneParts], workdir: Path, n: int, m: int, rounds: int
) -> None:
    # render: the view alone
    setup = node_setup(parse_config(CONFIG), NODE, 5)
    inputs = VswitchInputs(eff=setup.eff, plan=setup.plan, services=True)
    view = ServiceView(renderers, lambda: inputs, tuple)
    started = time.perf_counter()
    fill(view, n, m)
    emit(f"{tag}_render_{n}x{m}", (time.perf_counter() - started) * 1000, "ms", items=len(view.desired()))

    # start with every Service known, then a restart over what is there
    store = workdir / f"{tag}.db"
    built = await node(make_parts(), store, (n, m))
    ops = startup(built).ops
    ours = set(built.controller.services.desired())
    service_ops = [o for o in ops if o.key in ours]
    failed = sorted({f"{o.key}: {o.error}" for o in ops if o.outcome != "ok"})
    emit(
        f"{tag}_start_{n}x{m}",
        _STARTS[id(built)],
        "s",
        operations=len(ops),
        service_operations=len(service_ops),
        failed=len(failed),
        failures=failed[:3],
    )
    large = await changes(built, n, m, rounds, tag)
    await close(built)
    built = await node(make_parts(), store, (n, m))
    again = startup(built).ops
    on_services = [o for o in again if o.key in ours]
    others = sorted({o.key for o in again} - {o.key for o in on_services})
    emit(
        f"{tag}_restart_{n}x{m}_service_operations",
        len(on_services),
        "ops",
        target=0,
        seconds=round(_STARTS[id(built)], 3),
    )
    emit(f"{tag}_restart_{n}x{m}_other_operations", len(again) - len(on_services), "ops", keys=others)
    await close(built)

    # the same Services as events after the start (a watch's first list), on a fresh dataplane
    await wipe(tag, make_parts, workdir)
    built = await node(make_parts(), workdir / f"{tag}-ev.db", None)
    started = time.perf_counter()
    for i in range(n):
        built.controller.post(ServiceUpdated(service=service(i)))
        built.controller.post(EndpointsUpdated(slice=endpoints(i, m)))
    last = EndpointsUpdated(slice=endpoints(n - 1, m))
    await built.controller.submit(last)
    txns = [r for r in built.reconciler.history() if "service events" in r.trigger or r.trigger.startswith("endpoints")]
    emit(
        f"{tag}_events_{n}x{m}",
        time.perf_counter() - started,
        "s",
        transactions=len(txns),
        operations=sum(len(r.ops) for r in txns),
    )
    await close(built)

    # the same change with a tenth of the Services: does its cost depend on how many there are?
    await wipe(tag, make_parts, workdir)
    small_n = max(1, n // 10)
    built = await node(make_parts(), workdir / f"{tag}-small.db", (small_n, m))
    small = await changes(built, small_n, m, rounds, f"{tag}_small")
    await close(built)
    await wipe(tag, make_parts, workdir)
    emit(
        f"{tag}_endpoint_change_ratio_{n}_vs_{small_n}",
        statistics.median(large) / statistics.median(small),
        "ratio",
        target="~1",
    )


async def wipe(tag: str, make_parts: Callable[[], DataplaneParts], workdir: Path) -> None:
    """Remove every item of an earlier node (its startup resync over an empty view deletes them)."""
    built = await node(make_parts(), workdir / f"{tag}-wipe-{uuid.uuid4().hex[:4]}.db", None)
    await close(built)


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bsvc-", dir="/tmp"))
    try:
        if args.dataplane in ("vpp", "both"):
            async with vpp_parts(workdir) as make:
                await bench("vpp", vpp_render.RENDERERS, make, workdir, args.services, args.endpoints, args.rounds)
        if args.dataplane in ("kernel", "both"):
            async with kernel_parts(workdir) as make:
                renderers = kernel_render.RENDERERS
                await bench("kernel", renderers, make, workdir, args.services, args.endpoints, args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--dataplane", choices=["vpp", "kernel", "both"], default="both")
    args = parser.parse_args()
    own = f"bsvc-{uuid.uuid4().hex[:6]}"
    enter_own_netns(own)
    try:
        asyncio.run(main_async(args))
    finally:
        subprocess.run(["ip", "netns", "del", own], check=False)


if __name__ == "__main__":
    main()
