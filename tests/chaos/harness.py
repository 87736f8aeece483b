"""Chaos: pods added and deleted through the real contiv-cni while the agent is killed and VPP and the kernel fail.

One run (``Chaos(options).run()``) does this, everything in names of its own
(``chx-<tag>-…``):

1. **The node alone.** A network namespace for the node; in it the VPP
   emulator and the agent (``contivctl agent``), each a process, as a node
   runs them. Once the agent is ready, what VPP and the node namespace hold
   is the node's own (its base config: the pod VRF, the gateway loopback,
   the host interconnect): the *baseline*. Then both stop.
2. **Chaos.** The emulator again, now with random faults (``--fault``: a
   share of VPP's requests refused, a few answered late, a few cutting the
   agent's connection), and the agent. N workers (20) each run the real
   ``contiv-cni`` as a runtime does, a CNI call at a time, until the run's
   operations are done: ADD a new pod (a fresh network namespace and
   container ID), or DEL one of theirs and remove its namespace. An ADD
   that fails is DELed, as kubelet tears down a sandbox whose network
   setup failed, and the pod is tried again in a new sandbox after a
   backoff (longer after code 11, the agent being down). A DEL that fails
   is tried again later. Meanwhile the agent is killed (``kill -9``) at
   operation counts drawn from the seed, a little after the count is
   reached, and started again after a random pause: while it is down,
   ADDs fail with code 11 and DELs are queued on disk by contiv-cni.
   Some ADDs meet a real kernel failure instead (no hook in the product):
   their pod's namespace is deleted while the ADD runs, or it already has
   an ``eth0`` the agent did not make, so the kernel refuses the veth
   (EEXIST).
3. **Settle.** No more kills; SIGUSR1 stops the emulator's faults. The
   agent must become ready, drain the DEL queue and have no item failed
   or being retried (``/readiness``, the queue directory, ``/contiv/v1/status``),
   within a deadline. Then every pod whose last answer was an error is
   DELed again, and the agent settles again.
4. **Ground truth.** The agent's pods and addresses (REST), VPP's
   interfaces, routes and neighbours (dumped over its API socket), and the
   links of the node namespace and of every pod namespace left (netlink,
   ``ip -j``), compared with what the workers were told: every pod whose
   ADD answered OK and that was not deleted must be wired (the agent has
   it with the answered address, VPP has its interface, route and
   neighbour, its ``eth0`` has the address, the host end of its veth is
   there) and nothing else may exist beyond the baseline. What is left is
   counted by whose it is (``Violations``).

Objects are attributed by the attachment's hash (docs/naming.md): a VPP
interface tagged ``contiv:pod-<h>`` or bound to the host link ``cv<h>``, a
link ``cv<h>``, an address by its attachment key.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs

from contivctl.dataplane.linux.netns import in_netns
from contivctl.dataplane.vpp.connection import VPPConnection
from contivctl.demo import cni_binary
from contivctl.render import naming

ROOT = Path(__file__).resolve().parents[2]
API_DIR = str(ROOT / "contivctl" / "testing" / "vppemu" / "api")
PORT = 9999  # inside the node's own namespace: no other process binds there
IFNAME = "eth0"
POD_VRF = 1
#: the alias of the ``eth0`` a run puts into a pod namespace beforehand (a name-taken kernel fault)
FOREIGN = "chaos: not the agent's"
ALL = 0xFFFFFFFF

CONFIG = """\
UseTAPInterfaces: {tap}
TCPstackDisabled: true
MTUSize: 1450
NatExternalTraffic: false
IPAMConfig:
  NodeInterconnectCIDR: 192.168.16.0/24
"""


@attrs.frozen
class Options:
    seed: int = 1
    #: CNI calls of the chaos phase (ADD and DEL alike, retries included)
    operations: int = 1000
    concurrency: int = 20
    kills: int = 10
    #: the share of VPP's requests that meet a fault (mostly refusals; some late answers, some lost connections)
    vpp_faults: float = 0.05
    #: the share of ADDs that meet a real kernel failure (namespace deleted meanwhile, or eth0 taken)
    kernel_faults: float = 0.05
    #: veth (VETH + AF_PACKET) or tap
    mode: str = "veth"
    #: seconds the agent has to settle, each time
    settle: float = 90.0
    #: the pods a worker keeps wired at most
    hold: int = 4
    #: where to leave the agents' and the emulator's logs (None: removed with the run)
    logs: Path | None = None


class OutOfOperations(Exception):
    """The run's CNI calls are all taken: what is left is the final DEL's."""


@attrs.define
class Sandbox:
    """One sandbox of a pod: a network namespace and a container ID, ADDed once and DELed until it succeeds."""

    index: int
    pod: str
    attempt: int
    cid: str
    netns: str
    fault: str = ""
    #: "adding", "wired" (ADD answered OK, not deleted), "failed" (ADD answered an error, not DELed yet),
    #: "deleting" (a DEL answered an error: to be tried again), "deleted" (a DEL answered OK)
    state: str = "adding"
    ip: str = ""
    add_error: str = ""
    last_ok: bool = True

    @property
    def h(self) -> str:
        return naming.attachment_id(self.cid, IFNAME)

    @property
    def netns_path(self) -> str:
        return f"/var/run/netns/{self.netns}"


@attrs.define
class Violations:
    """What must be 0 after a chaos run, each with what was found."""

    ips_without_attachment: list[str] = attrs.Factory(list)
    objects_without_owner: list[str] = attrs.Factory(list)
    ok_but_not_wired: list[str] = attrs.Factory(list)
    error_but_half_wired: list[str] = attrs.Factory(list)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in attrs.asdict(self).items()}

    def total(self) -> int:
        return sum(self.counts().values())


@attrs.define
class Report:
    options: Options
    #: the run's names: ``chx-<tag>-…``
    tag: str = ""
    violations: Violations = attrs.Factory(Violations)
    operations: int = 0
    answers: dict[str, collections.Counter[str]] = attrs.Factory(dict)
    final_dels: collections.Counter[str] = attrs.Factory(collections.Counter)
    dels_queued: int = 0
    kills: int = 0
    kills_at_start: int = 0
    agent_starts: int = 0
    agent_exits: list[int] = attrs.Factory(list)
    vpp_faults: list[dict[str, Any]] = attrs.Factory(list)
    kernel_faults: collections.Counter[str] = attrs.Factory(collections.Counter)
    pods: int = 0
    sandboxes: int = 0
    wired_at_end: int = 0
    settled: bool = False
    #: the run stopped before its calls were done: the agent did not become ready again in time
    gave_up: bool = False
    unsettled: str = ""
    wall: float = 0.0
    logs: str = ""
    #: a few messages of each kind of error answer
    errors: dict[str, list[str]] = attrs.Factory(dict)
    #: the end of the last agent's log, when something is wrong
    tail: str = ""

    def lines(self) -> list[dict[str, Any]]:
        """The figures, one JSON object each."""
        o = self.options
        counts = self.violations.counts()
        fired = collections.Counter[str]()
        seen = 0
        for rule in self.vpp_faults:
            fired[rule["action"]] += rule["fired"]
            seen = max(seen, rule.get("seen", 0))
        out: list[dict[str, Any]] = [{"metric": name, "value": n, "unit": "count"} for name, n in counts.items()]
        out += [
            {
                "metric": "operations",
                "value": self.operations,
                "unit": "count",
                "concurrency": o.concurrency,
                "gave_up": self.gave_up,
            },
            {
                "metric": "answers",
                "value": sum(sum(c.values()) for c in self.answers.values()),
                "unit": "count",
                **{cmd: dict(sorted(c.items())) for cmd, c in sorted(self.answers.items())},
            },
            {"metric": "dels_queued", "value": self.dels_queued, "unit": "count"},
            {
                "metric": "final_dels",
                "value": sum(self.final_dels.values()),
                "unit": "count",
                **dict(sorted(self.final_dels.items())),
            },
            {
                "metric": "kills",
                "value": self.kills,
                "unit": "count",
                "during_start": self.kills_at_start,
                "agent_starts": self.agent_starts,
                "unexpected_exits": self.agent_exits,
            },
            {
                "metric": "vpp_faults_fired",
                "value": sum(fired.values()),
                "unit": "count",
                "requests": seen,
                "fraction": o.vpp_faults,
                **dict(sorted(fired.items())),
            },
            {
                "metric": "kernel_faults",
                "value": sum(self.kernel_faults.values()),
                "unit": "count",
                "fraction": o.kernel_faults,
                **dict(sorted(self.kernel_faults.items())),
            },
            {
                "metric": "pods",
                "value": self.pods,
                "unit": "count",
                "sandboxes": self.sandboxes,
                "wired_at_end": self.wired_at_end,
            },
            {"metric": "settled", "value": int(self.settled), "unit": "bool", "why_not": self.unsettled},
            {"metric": "wall", "value": round(self.wall, 2), "unit": "s", "seed": o.seed, "mode": o.mode},
        ]
        out += [
            {"metric": f"sample {what}", "value": len(msgs), "unit": "messages", "messages": msgs}
            for what, msgs in sorted(self.errors.items())
        ]
        return out


# -- small helpers ----------------------------------------------------------------------


async def sh(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {err.decode().strip()}")
    return out.decode()


async def links(netns: str) -> list[dict[str, Any]]:
    """``ip -d -j link`` of a named namespace; [] when it is gone."""
    try:
        out = await sh("ip", "-n", netns, "-d", "-j", "addr", "show")
    except RuntimeError:
        return []
    return list(json.loads(out or "[]"))


def group_of(link: dict[str, Any]) -> int:
    g = link.get("group", "default")
    return int(g) if str(g).isdigit() else 0


class Rest:
    """The agent's REST endpoint, on 127.0.0.1 of the node's namespace (a socket opened there)."""

    def __init__(self, netns: str) -> None:
        self.path = f"/var/run/netns/{netns}"

    def _get(self, path: str, timeout: float) -> tuple[int, Any]:
        try:
            sock = in_netns(self.path, lambda: socket.create_connection(("127.0.0.1", PORT), timeout=timeout))
        except OSError:
            return 0, None
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
        conn.sock = sock
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
        except (OSError, http.client.HTTPException):
            return 0, None
        finally:
            conn.close()
        try:
            return resp.status, json.loads(body) if body else None
        except ValueError:
            return resp.status, body.decode(errors="replace")

    async def get(self, path: str, timeout: float = 30.0) -> tuple[int, Any]:
        return await asyncio.to_thread(self._get, path, timeout)


# -- the node's processes ------------------------------------------------------------------


class Node:
    """The node's namespace and, in it, the VPP emulator and the agent as processes."""

    def __init__(self, tag: str, work: Path, opts: Options) -> None:
        self.tag = tag
        self.netns = f"chx-{tag}-node"
        self.name = f"chx-{tag}"  # the agent's node name: its device group is its own
        self.work = work
        self.opts = opts
        self.vpp_sock = work / "vpp.sock"
        self.cni_sock = work / "cni.sock"
        self.queue = work / "cni-del-queue"
        self.fault_report = work / "faults.json"
        self.rest = Rest(self.netns)
        self.emulator: asyncio.subprocess.Process | None = None
        self.agent: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.killed: set[int] = set()
        (work / "contiv.yaml").write_text(CONFIG.format(tap="true" if opts.mode == "tap" else "false"))

    async def create(self) -> None:
        await sh("ip", "netns", "add", self.netns)
        await sh("ip", "-n", self.netns, "link", "set", "lo", "up")

    def env(self) -> dict[str, str]:
        """Byte-compiled modules, as an installed agent has them: a restart costs what a node's does."""
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        env["PYTHONPATH"] = str(ROOT)
        return env

    async def _spawn(self, argv: list[str], log: str) -> asyncio.subprocess.Process:
        with (self.work / log).open("ab") as out:
            return await asyncio.create_subprocess_exec(
                "ip", "netns", "exec", self.netns, *argv,
                cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    async def start_emulator(self, faults: bool) -> None:
        argv = [sys.executable, "-m", "contivctl.testing.vppemu", "--socket", str(self.vpp_sock)]
        f = self.opts.vpp_faults
        if faults and f > 0:
            # refusals (VPP's UNSPECIFIED), answers late enough to reorder work, lost connections
            argv += ["--fault-seed", str(self.opts.seed), "--fault-report", str(self.fault_report)]
            argv += ["--fault", f"fail:{0.8 * f:.6f}", "--fault", f"delay=0.2:{0.1 * f:.6f}"]
            argv += ["--fault", f"drop:{0.1 * f:.6f}"]
        self.vpp_sock.unlink(missing_ok=True)
        self.emulator = await self._spawn(argv, "vppemu.log")
        deadline = time.monotonic() + 30
        while not self.vpp_sock.exists():
            if self.emulator.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the VPP emulator did not start; {self.work / 'vppemu.log'}")
            await asyncio.sleep(0.02)

    async def stop_faults(self) -> list[dict[str, Any]]:
        """Stop the emulator's faults (SIGUSR1); the rules and their counts."""
        if self.emulator is None or self.opts.vpp_faults <= 0:
            return []
        before = self.fault_report.stat().st_mtime_ns if self.fault_report.exists() else 0
        self.emulator.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.fault_report.exists() or self.fault_report.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the emulator wrote no fault report")
            await asyncio.sleep(0.02)
        return list(json.loads(self.fault_report.read_text())["faults"])

    async def start_agent(self) -> None:
        if not (self.work / "pycache").exists():
            await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-c", "import contivctl.cli, contivctl.agent.agent"],
                env=self.env(), cwd=ROOT, check=True,
            )  # fmt: skip
        self.starts += 1
        argv = [
            *(sys.executable, "-m", "contivctl", "agent", "--config", str(self.work / "contiv.yaml")),
            *("--node-name", self.name, "--node-id", "1", "--store", str(self.work / "agent.db")),
            *("--vpp-socket", str(self.vpp_sock), "--vpp-api-dir", API_DIR),
            *("--cni-socket", str(self.cni_sock), "--http", f"127.0.0.1:{PORT}"),
            *("--no-kubernetes", "--log-level", "info"),
        ]
        self.agent = await self._spawn(argv, f"agent-{self.starts}.log")

    def agent_running(self) -> bool:
        return self.agent is not None and self.agent.returncode is None

    async def kill_agent(self) -> None:
        """kill -9: the dataplane and the store stay as the agent left them."""
        if self.agent is not None and self.agent.returncode is None:
            self.killed.add(self.agent.pid)
            self.agent.send_signal(signal.SIGKILL)
            await self.agent.wait()

    async def stop_agent(self) -> int | None:
        agent, self.agent = self.agent, None
        if agent is None:
            return None
        if agent.returncode is None:
            agent.send_signal(signal.SIGTERM)
            try:
                return await asyncio.wait_for(agent.wait(), 60)
            except TimeoutError:
                agent.kill()
                await agent.wait()
                return -9
        return agent.returncode

    async def stop_emulator(self) -> None:
        emu, self.emulator = self.emulator, None
        if emu is not None and emu.returncode is None:
            emu.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(emu.wait(), 30)
            except TimeoutError:
                emu.kill()
                await emu.wait()

    async def ready(self) -> tuple[bool, str]:
        status, body = await self.rest.get("/readiness", timeout=5)
        if status == 0:
            return False, "the agent does not answer"
        if status != 200:
            return False, str(body.get("reason", body) if isinstance(body, dict) else body)
        return True, ""

    async def settled(self) -> tuple[bool, str]:
        """Ready, the DEL queue drained, no item failed or being retried, the last transaction done."""
        if not self.agent_running():
            return False, "the agent is not running"
        ok, why = await self.ready()
        if not ok:
            return False, f"not ready: {why}"
        queued = [n for n in os.listdir(self.queue) if not n.startswith(".")] if self.queue.exists() else []
        if queued:
            return False, f"{len(queued)} DELs still queued ({', '.join(sorted(queued)[:3])})"
        status, body = await self.rest.get("/contiv/v1/status")
        if status != 200 or not isinstance(body, dict):
            return False, f"status: {status}"
        if body.get("itemsFailed"):
            _, diff = await self.rest.get("/contiv/v1/items?view=diff")
            rows = (diff or {}).get("items", [])
            bad = [f"{d['key']}: {d['state']} {d.get('error') or ''}" for d in rows if d["state"] != "pending"]
            return False, f"{body['itemsFailed']} items failed: {'; '.join(bad[:4])}"
        return True, ""

    async def settle(self, timeout: float) -> tuple[bool, str]:
        deadline = time.monotonic() + timeout
        why = ""
        while time.monotonic() < deadline:
            ok, why = await self.settled()
            if ok:
                return True, ""
            await asyncio.sleep(0.2)
        return False, why

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (await self.ready())[0]:
            if not self.agent_running():
                raise RuntimeError(f"the agent exited; {self.work}")
            if time.monotonic() > deadline:
                raise RuntimeError("the agent did not become ready")
            await asyncio.sleep(0.05)

    async def remove(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop_agent()
        with contextlib.suppress(Exception):
            await self.stop_emulator()
        await sh("ip", "netns", "del", self.netns, check=False)


# -- what VPP and Linux hold ---------------------------------------------------------


@attrs.frozen
class VppInterface:
    index: int
    name: str  # the agent's name for it (its tag), else VPP's
    vpp_name: str
    tagged: bool
    host_if: str  # the af_packet's or tap's host link, else ""
    vrf: int


@attrs.frozen
class VppState:
    interfaces: dict[int, VppInterface]
    routes: frozenset[tuple[int, str, frozenset[str]]]  # (table, prefix, interfaces of its paths)
    neighbours: frozenset[tuple[str, str, str]]  # (interface, ip, mac)

    def names(self) -> set[str]:
        return {i.name for i in self.interfaces.values()}


async def vpp_state(sock: Path) -> VppState:
    vpp = VPPConnection(str(sock), api_dir=API_DIR, timeout=10)
    await vpp.start(wait=20)
    try:
        details, afp, taps, tables = await asyncio.gather(
            vpp.dump("sw_interface_dump"),
            vpp.dump("af_packet_dump"),
            vpp.dump("sw_interface_tap_v2_dump", sw_if_index=ALL),
            vpp.dump("ip_table_dump"),
        )
        host_if = {int(a.sw_if_index): str(a.host_if_name) for a in afp}
        host_if.update({int(t.sw_if_index): str(t.host_if_name) for t in taps})
        indices = [int(d.sw_if_index) for d in details]
        vrfs = await vpp.call_many([("sw_interface_get_table", {"sw_if_index": i, "is_ipv6": False}) for i in indices])
        interfaces = {}
        for d, vrf in zip(details, vrfs, strict=True):
            tag = str(d.tag)
            i = int(d.sw_if_index)
            name = tag[len("contiv:") :] if tag.startswith("contiv:") else str(d.interface_name)
            interfaces[i] = VppInterface(
                i, name, str(d.interface_name), tag.startswith("contiv:"), host_if.get(i, ""), int(vrf.vrf_id)
            )

        def iname(i: int) -> str:
            return interfaces[i].name if i in interfaces else f"#{i}"

        routes = set()
        for t in tables:
            if t.table.is_ip6:
                continue
            table_id = int(t.table.table_id)
            for r in await vpp.dump("ip_route_dump", table={"table_id": table_id, "is_ip6": False}):
                paths = frozenset(iname(int(p.sw_if_index)) for p in r.route.paths if int(p.sw_if_index) != ALL)
                routes.add((table_id, str(r.route.prefix), paths))
        neighbours = {
            (iname(int(n.neighbor.sw_if_index)), str(n.neighbor.ip_address), str(n.neighbor.mac_address))
            for n in await vpp.dump("ip_neighbor_dump", sw_if_index=ALL, af=0)
        }
        return VppState(interfaces, frozenset(routes), frozenset(neighbours))
    finally:
        await vpp.close()


def attachment_of(name: str) -> str | None:
    """The attachment hash in one of the agent's names for a pod's object (docs/naming.md), else None."""
    for prefix in ("podloop-", "pod-", "cv", "ct", "host-cv"):
        rest = name[len(prefix) :]
        if name.startswith(prefix) and len(rest) == 13 and all(c in "0123456789abcdef" for c in rest):
            return rest
    return None


# -- the run ---------------------------------------------------------------------------


class Chaos:
    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.tag = uuid.uuid4().hex[:6]
        self.rng = random.Random(f"{opts.seed}/run")
        self.work = Path(tempfile.mkdtemp(prefix=f"chx-{self.tag}-", dir="/tmp"))
        self.node = Node(self.tag, self.work, opts)
        self.plugin = cni_binary.ensure()
        self.conf = json.dumps(
            {
                "cniVersion": "1.0.0",
                "name": "chaos",
                "type": "contiv-cni",
                "grpcServer": str(self.node.cni_sock),
                "logFile": str(self.work / "contiv-cni.log"),
            }
        ).encode()
        self.status_conf = json.dumps(
            {"cniVersion": "1.1.0", "name": "chaos", "type": "contiv-cni", "grpcServer": str(self.node.cni_sock)}
        ).encode()
        #: CNI STATUS says the agent can serve ADDs: the runtime starts no new pod otherwise (NetworkReady)
        self.network_ready = asyncio.Event()
        self.report = Report(opts, self.tag)
        self.sandboxes: dict[str, Sandbox] = {}
        self.namespaces: set[str] = set()
        self._ops = 0  # CNI calls reserved
        self.done = 0  # CNI calls answered
        self._pods = 0
        self._chaos = True
        #: when the run stops waiting for a network that does not become ready (set when the chaos starts)
        self.give_up_at = float("inf")
        self.baseline_vpp: VppState | None = None
        self.baseline_links: set[str] = set()

    # -- CNI calls ------------------------------------------------------------------

    async def cni(self, command: str, sb: Sandbox) -> tuple[bool, str, str]:
        """One contiv-cni call: (ok, the IP of an ADD or the CNI code of an error, the message)."""
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": sb.cid,
            "CNI_NETNS": sb.netns_path,
            "CNI_IFNAME": IFNAME,
            "CNI_PATH": "/usr/lib/cni",
            "CNI_ARGS": f"IgnoreUnknown=1;K8S_POD_NAMESPACE=chaos;K8S_POD_NAME={sb.pod};K8S_POD_UID=uid-{sb.pod}",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        proc = await asyncio.create_subprocess_exec(
            self.plugin,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate(self.conf)
        if proc.returncode == 0:
            if command == "ADD":
                return True, json.loads(out)["ips"][0]["address"].split("/")[0], ""
            return True, "", ""
        try:
            answer = json.loads(out)
            return False, str(answer["code"]), str(answer.get("msg", ""))
        except (ValueError, KeyError):
            return False, f"exit {proc.returncode}", err.decode(errors="replace").strip()[-300:]

    async def status(self) -> bool:
        """CNI STATUS through contiv-cni: can an ADD be served now."""
        env = {"CNI_COMMAND": "STATUS", "CNI_PATH": "/usr/lib/cni", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        proc = await asyncio.create_subprocess_exec(
            self.plugin,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.communicate(self.status_conf)
        return proc.returncode == 0

    async def watch_status(self) -> None:
        """What containerd does with STATUS: kubelet starts new pods only while the network is ready."""
        while self._chaos:
            if await self.status():
                self.network_ready.set()
            else:
                self.network_ready.clear()
            await asyncio.sleep(0.05)
        self.network_ready.set()

    def take(self) -> None:
        """Reserve one CNI call of the run; OutOfOperations once they are all taken."""
        if self._ops >= self.opts.operations:
            raise OutOfOperations
        self._ops += 1

    def answered(self, command: str, ok: bool, code: str, msg: str) -> None:
        self.done += 1
        self.report.answers.setdefault(command, collections.Counter())["ok" if ok else code] += 1
        if not ok:
            seen = self.report.errors.setdefault(f"{command} {code}", [])
            if len(seen) < 3 and msg[:60] not in (m[:60] for m in seen):
                seen.append(msg[:200])

    # -- pods ---------------------------------------------------------------------------

    async def new_sandbox(self, pod: str, index: int, attempt: int) -> Sandbox:
        netns = f"chx-{self.tag}-p{index}-{attempt}"
        rng = random.Random(f"{self.opts.seed}/pod/{index}/{attempt}")
        fault = ""
        if rng.random() < self.opts.kernel_faults:
            fault = rng.choice(["netns-gone", "name-taken"])
        sb = Sandbox(index, pod, attempt, uuid.uuid4().hex * 2, netns, fault)
        await sh("ip", "netns", "add", netns)
        self.namespaces.add(netns)
        if fault == "name-taken":
            # a veth pair of the namespace's own (this kernel has no dummy links)
            await sh("ip", "-n", netns, "link", "add", IFNAME, "type", "veth", "peer", "name", "chx-peer")
            for name in (IFNAME, "chx-peer"):
                await sh("ip", "-n", netns, "link", "set", name, "alias", FOREIGN)
        self.sandboxes[sb.cid] = sb
        self.report.sandboxes += 1
        return sb

    async def remove_netns(self, sb: Sandbox) -> None:
        await sh("ip", "netns", "del", sb.netns, check=False)
        self.namespaces.discard(sb.netns)

    async def add(self, sb: Sandbox) -> bool:
        """ADD a sandbox (its kernel fault meanwhile); on an error DEL it, as a runtime tears the sandbox down."""
        sabotage = None
        if sb.fault == "netns-gone":
            delay = random.Random(f"{self.opts.seed}/gone/{sb.cid}").uniform(0.0, 0.08)

            async def gone() -> None:
                await asyncio.sleep(delay)
                await self.remove_netns(sb)

            sabotage = asyncio.create_task(gone())
        ok, what, msg = await self.cni("ADD", sb)
        if sabotage is not None:
            await sabotage
        if sb.fault:
            self.report.kernel_faults[sb.fault] += 1
        self.answered("ADD", ok, what, msg)
        if ok:
            sb.ip, sb.state, sb.last_ok = what, "wired", True
            if sb.fault == "netns-gone":
                await self.delete(sb)  # the sandbox is gone: the runtime tears it down
                return True
            return True
        sb.state, sb.add_error, sb.last_ok = "failed", f"{what}: {msg}", False
        await self.delete(sb)
        return False

    async def delete(self, sb: Sandbox) -> bool:
        self.take()
        ok, what, msg = await self.cni("DEL", sb)
        self.answered("DEL", ok, what, msg)
        sb.last_ok = ok
        if ok:
            sb.state = "deleted"
            if sb.add_error == "":
                await self.remove_netns(sb)  # the runtime removes a deleted sandbox's namespace
        else:
            sb.state = "deleting"
        return ok

    async def ready_for_pods(self) -> bool:
        """Wait a while for CNI STATUS to say the network is ready; the run gives up when it never is."""
        try:
            await asyncio.wait_for(self.network_ready.wait(), 1.0)
        except TimeoutError:
            if time.monotonic() > self.give_up_at:
                self.report.gave_up = True  # the agent never became ready again: the report says so
                raise OutOfOperations from None
            return False
        return True

    async def worker(self, w: int) -> None:
        with contextlib.suppress(OutOfOperations):
            await self._work(random.Random(f"{self.opts.seed}/worker/{w}"))

    async def _work(self, rng: random.Random) -> None:
        """ADD a pod, or DEL one: a pod's ADD is tried in new sandboxes until one is wired."""
        mine: list[Sandbox] = []
        again: list[Sandbox] = []  # DELs that answered an error: the runtime tries them again
        while True:
            # kubelet tears sandboxes down while the network is not ready; it only starts none
            if again and (rng.random() < 0.5 or not self.network_ready.is_set()):
                sb = again.pop(0)
                if not await self.delete(sb):
                    again.append(sb)
                    await asyncio.sleep(0.1)
                continue
            if mine and (len(mine) >= self.opts.hold or rng.random() < 0.4):
                sb = mine.pop(rng.randrange(len(mine)))
                if not await self.delete(sb):
                    again.append(sb)
                continue
            if not await self.ready_for_pods():
                continue
            self.take()
            self._pods += 1
            index = self._pods
            pod = f"pod-{index}"
            for attempt in range(1000):
                sb = await self.new_sandbox(pod, index, attempt)
                if await self.add(sb):
                    if sb.state == "wired":
                        mine.append(sb)
                    break
                if sb.state == "deleting":
                    again.append(sb)
                await asyncio.sleep(min(0.02 * 2**attempt, 0.5))
                while not await self.ready_for_pods():
                    pass
                self.take()

    # -- kills -------------------------------------------------------------------------

    async def killer(self) -> None:
        """kill -9 at operation counts drawn from the seed, each a random moment after the agent serves again.

        About a third of the kills land instead in the next agent's start
        (its startup resync, the drain of the DEL queue), a random 0.2-1.5 s
        after it was started.
        """
        o = self.opts
        lo, hi = max(1, o.operations // 20), max(2, o.operations - o.operations // 10)
        points = sorted(self.rng.sample(range(lo, hi), min(o.kills, hi - lo)))
        for i, point in enumerate(points):
            if i > 0 and self.rng.random() < 0.3:
                await asyncio.sleep(self.rng.uniform(0.2, 1.5))
                self.report.kills_at_start += 1
            else:
                while self.done < point or not await self.serving():
                    await asyncio.sleep(0.01)
                    await self.revive()
                await asyncio.sleep(self.rng.uniform(0.0, 0.3))
            await self.node.kill_agent()
            self.report.kills += 1
            await asyncio.sleep(self.rng.uniform(0.0, 0.5))
            await self.node.start_agent()
        while self._chaos:
            await asyncio.sleep(0.05)
            await self.revive()

    async def serving(self) -> bool:
        """Whether the agent is past its startup resync (it serves CNI calls then)."""
        if not self.node.agent_running():
            return False
        status, body = await self.node.rest.get("/contiv/v1/status", timeout=5)
        return status == 200 and bool(body["startupResync"]["done"])

    async def revive(self) -> None:
        """An agent that exited by itself is a finding; it is started again, as its pod would be."""
        agent = self.node.agent
        if agent is not None and agent.returncode is not None and agent.pid not in self.node.killed:
            self.report.agent_exits.append(agent.returncode)
            await self.node.start_agent()

    # -- phases -----------------------------------------------------------------------

    async def baseline(self) -> None:
        """The node without pods: what VPP and the node namespace hold is the node's own."""
        node = self.node
        await node.start_emulator(faults=False)
        await node.start_agent()
        await node.wait_ready()
        ok, why = await node.settle(30)
        if not ok:
            raise RuntimeError(f"the agent did not settle without faults: {why}")
        self.baseline_vpp = await vpp_state(node.vpp_sock)
        self.baseline_links = {lk["ifname"] for lk in await links(node.netns)}
        await node.stop_agent()
        await node.stop_emulator()
        (self.work / "agent.db").unlink(missing_ok=True)

    async def chaos(self) -> None:
        node = self.node
        await node.start_emulator(faults=True)
        # only a guard against waiting for ever: a run's calls take well under a second each
        self.give_up_at = time.monotonic() + 300 + self.opts.operations * 1.0
        await node.start_agent()  # not waited for: ADDs meanwhile are code 11, as after each kill
        killer = asyncio.create_task(self.killer())
        status = asyncio.create_task(self.watch_status())
        try:
            await asyncio.gather(*(self.worker(w) for w in range(self.opts.concurrency)))
        finally:
            self._chaos = False
            await killer
            await status
        self.report.operations = self.done
        self.report.pods = self._pods
        self.report.agent_starts = node.starts - 1  # the baseline's agent was the first
        if not node.agent_running():
            await node.start_agent()

    async def final(self) -> None:
        node = self.node
        self.report.vpp_faults = await node.stop_faults()
        ok, why = await node.settle(self.opts.settle)
        for sb in list(self.sandboxes.values()):
            dead = sb.state == "wired" and sb.netns not in self.namespaces  # its namespace deleted under it
            if not sb.last_ok or sb.state in ("failed", "deleting") or dead:
                done, what, _ = await self.cni("DEL", sb)
                self.report.final_dels["ok" if done else what] += 1
                if done:
                    sb.state, sb.last_ok = "deleted", True
        if self.report.final_dels:
            ok, why = await node.settle(self.opts.settle)
        self.report.settled, self.report.unsettled = ok, why

    # -- ground truth ------------------------------------------------------------------

    def whose(self, h: str | None) -> Sandbox | None:
        if h is None:
            return None
        return next((sb for sb in self.sandboxes.values() if sb.h == h), None)

    def leftover(self, v: Violations, h: str | None, what: str) -> None:
        """Something that exists and is no live pod's: half-wired if its pod's ADD answered an error."""
        sb = self.whose(h)
        if sb is not None and sb.add_error:
            v.error_but_half_wired.append(f"{what} (pod {sb.pod} {sb.cid[:12]}: ADD said {sb.add_error[:80]})")
        elif sb is not None:
            v.objects_without_owner.append(f"{what} (pod {sb.pod} {sb.cid[:12]}, {sb.state})")
        else:
            v.objects_without_owner.append(what)

    async def check(self) -> Violations:
        v = Violations()
        node = self.node
        wired = {sb.cid: sb for sb in self.sandboxes.values() if sb.state == "wired"}
        by_h = {sb.h: sb for sb in wired.values()}
        self.report.wired_at_end = len(wired)

        # the agent: its attachments and their addresses
        status, pods = await node.rest.get("/contiv/v1/pods")
        if status != 200:
            v.ok_but_not_wired.append(f"the agent does not answer /contiv/v1/pods ({status}): no pod can be checked")
            pods = []
        agent_pods = {p["containerId"]: p for p in pods}
        for cid, p in agent_pods.items():
            sb = wired.get(cid)
            if sb is None:
                self.leftover(v, naming.attachment_id(cid, p["ifname"]), f"agent attachment {cid[:12]} ({p['ip']})")
            elif p["ip"] != sb.ip or p["state"] != "wired":
                v.ok_but_not_wired.append(f"{sb.pod}: the agent has {p['ip']} {p['state']!r}, ADD answered {sb.ip}")
        for cid, sb in wired.items():
            if cid not in agent_pods:
                v.ok_but_not_wired.append(f"{sb.pod} {cid[:12]}: the agent has no attachment (ADD answered {sb.ip})")
        status, ipam = await node.rest.get("/contiv/v1/ipam/allocations")
        for row in (ipam or {}).get("allocations", []):
            cid = row["attachment"].rpartition("/")[0]
            sb = wired.get(cid)
            if sb is None:
                who = self.sandboxes.get(cid)
                state = f"pod {who.pod}, {who.state}" if who else "unknown attachment"
                v.ips_without_attachment.append(f"{row['ip']} held by {row['attachment'][:12]}… ({state})")
            elif row["ip"] != sb.ip:
                v.ok_but_not_wired.append(f"{sb.pod}: {row['ip']} allocated, ADD answered {sb.ip}")
        held = {row["attachment"].rpartition("/")[0] for row in (ipam or {}).get("allocations", [])}
        for cid, sb in wired.items():
            if cid not in held:
                v.ok_but_not_wired.append(f"{sb.pod}: no address allocated (ADD answered {sb.ip})")
        status, check = await node.rest.get("/contiv/v1/ipam/check")
        for problem in (check or {}).get("problems", []):
            if not any(text.startswith(f"{problem['ip']} ") for text in v.ips_without_attachment):
                att = problem["attachment"]
                v.ips_without_attachment.append(f"ipam check: {problem['problem']}: {att[:12]}… {problem['ip']}")

        # VPP
        assert self.baseline_vpp is not None
        base = self.baseline_vpp
        vpp = await vpp_state(node.vpp_sock)
        base_names = base.names()
        for itf in vpp.interfaces.values():
            if itf.name in base_names:
                continue
            h = attachment_of(itf.name) or attachment_of(itf.host_if)
            sb = by_h.get(h or "")
            tagged = "" if itf.tagged else ", untagged"
            if sb is None:
                self.leftover(v, h, f"VPP interface {itf.name} ({itf.vpp_name}{tagged})")
            elif itf.name != naming.vpp_pod_if_name(sb.cid, IFNAME) or itf.vrf != POD_VRF:
                v.ok_but_not_wired.append(f"{sb.pod}: VPP interface {itf.name} ({itf.vpp_name}{tagged}, VRF {itf.vrf})")
        names = vpp.names()
        expected_routes = set()
        expected_neighbours = set()
        for sb in wired.values():
            vif = naming.vpp_pod_if_name(sb.cid, IFNAME)
            if vif not in names:
                v.ok_but_not_wired.append(f"{sb.pod} {sb.ip}: VPP has no interface {vif}")
                continue
            route = (POD_VRF, f"{sb.ip}/32", frozenset({vif}))
            neighbour = (vif, sb.ip, naming.pod_side_mac(sb.cid, IFNAME))
            expected_routes.add(route)
            expected_neighbours.add(neighbour)
            if route not in vpp.routes:
                v.ok_but_not_wired.append(f"{sb.pod}: VPP has no route {sb.ip}/32 via {vif}")
            if neighbour not in vpp.neighbours:
                v.ok_but_not_wired.append(f"{sb.pod}: VPP has no neighbour {sb.ip} on {vif}")
        for table, prefix, paths in sorted(vpp.routes - base.routes - expected_routes, key=str):
            h = next((attachment_of(p) for p in paths if attachment_of(p)), None)
            self.leftover(v, h, f"VPP route {prefix} in table {table} via {', '.join(sorted(paths)) or 'nothing'}")
        for itf_name, ip, mac in sorted(vpp.neighbours - base.neighbours - expected_neighbours):
            self.leftover(v, attachment_of(itf_name), f"VPP neighbour {ip} {mac} on {itf_name}")
        for itf_name in sorted(base_names - names):
            v.objects_without_owner.append(f"(node) VPP interface {itf_name} of the node is gone")

        # Linux: the node's namespace
        host_links = {lk["ifname"]: lk for lk in await links(node.netns)}
        for name, lk in sorted(host_links.items()):
            if name in self.baseline_links:
                continue
            h = attachment_of(name)
            sb = by_h.get(h or "")
            if sb is None or self.opts.mode != "veth":
                self.leftover(v, h, f"link {name} in the node namespace (group {group_of(lk):#x})")
        if self.opts.mode == "veth":
            for sb in wired.values():
                if naming.host_veth_name(sb.cid, IFNAME) not in host_links:
                    v.ok_but_not_wired.append(f"{sb.pod}: no link {naming.host_veth_name(sb.cid, IFNAME)} on the node")

        # Linux: each pod namespace still there
        for sb in self.sandboxes.values():
            if sb.netns not in self.namespaces:
                continue
            found = {lk["ifname"]: lk for lk in await links(sb.netns)}
            own = {n: lk for n, lk in found.items() if n != "lo" and lk.get("ifalias") != FOREIGN}
            if sb.state == "wired":
                eth = own.pop(IFNAME, None)
                addrs = [a["local"] for a in (eth or {}).get("addr_info", []) if a.get("family") == "inet"]
                if eth is None or addrs != [sb.ip]:
                    v.ok_but_not_wired.append(f"{sb.pod}: {IFNAME} has {addrs or 'no link'}, ADD answered {sb.ip}")
                else:
                    gw = await sh("ip", "-n", sb.netns, "-j", "route", "show", "default", check=False)
                    if not json.loads(gw or "[]"):
                        v.ok_but_not_wired.append(f"{sb.pod}: no default route in its namespace")
            for name in sorted(own):
                self.leftover(v, sb.h, f"link {name} in the namespace of {sb.pod} ({sb.state})")
        return v

    # -- all of it ---------------------------------------------------------------------

    async def cleanup(self) -> None:
        await self.node.remove()
        if self.namespaces:
            script = "".join(f"netns del {n}\n" for n in sorted(self.namespaces))
            await sh("ip", "-force", "-batch", "-", check=False, stdin=script)
            self.namespaces.clear()
        log = self.work / "contiv-cni.log"
        if log.exists():
            self.report.dels_queued = log.read_text(errors="replace").count(": ok, queued as ")
        if self.opts.logs is not None and self.work.exists():
            keep = self.opts.logs / f"chx-{self.tag}"
            keep.mkdir(parents=True, exist_ok=True)
            for f in self.work.iterdir():
                if f.suffix in (".log", ".json") and f.is_file():
                    shutil.copy(f, keep / f.name)
            self.report.logs = str(keep)
        shutil.rmtree(self.work, ignore_errors=True)

    async def run(self) -> Report:
        """The whole run; its namespaces, processes and files are gone afterwards, whatever happened."""
        t0 = time.perf_counter()
        try:
            await self.node.create()
            await self.baseline()
            await self.chaos()
            await self.final()
            self.report.violations = await self.check()
            if self.opts.logs is not None:  # the last agent's transactions, its startup resync's among them
                _, history = await self.node.rest.get("/contiv/v1/txn", timeout=60)
                (self.work / "txn.json").write_text(json.dumps(history, indent=1))
        finally:
            self.report.wall = time.perf_counter() - t0
            if self.report.violations.total() or not self.report.settled:
                self.report.tail = self.tail()
            await self.cleanup()
        return self.report

    def tail(self, lines: int = 60) -> str:
        """The last lines of the last agent's log, while the run's files exist."""
        log = self.work / f"agent-{self.node.starts}.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run(opts: Options) -> Report:
    return asyncio.run(Chaos(opts).run())
