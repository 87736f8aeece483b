"""A demo cluster brought up step by step, and torn down from its state file whatever happened.

Every resource is entered in the state file before it is created, and
:func:`teardown` works from that file alone: the demo's own ``finally``,
``contivctl demo down`` after a kept or broken demo, and the tests all use
the same path.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from contivctl.cluster.servicefile import write_services
from contivctl.cluster.static import write_nodes
from contivctl.demo import matrix, pods, procs, topology
from contivctl.demo import service as svc
from contivctl.demo.plan import DemoPlan, NodePlan
from contivctl.demo.progress import Progress
from contivctl.demo.sh import DemoError
from contivctl.demo.state import DemoState, PodRecord, ProcessRecord, StateFile
from contivctl.model import NodeInfo

#: CNI calls at once: each is a Python process start; two cores
CNI_PARALLEL = 4
#: how long the nodes may take to find each other (etcd) before the matrix is taken anyway
CONVERGE_TIMEOUT = 20.0
#: how long every agent may take to apply a change of the services file (it looks every second)
SERVICE_TIMEOUT = 20.0


def new_tag() -> str:
    return uuid.uuid4().hex[:4]


class DemoCluster:
    def __init__(self, plan: DemoPlan, state_file: StateFile, progress: Progress) -> None:
        self.plan = plan
        self.files = state_file
        self.progress = progress
        self.run_dir = state_file.directory / plan.tag
        self.state = DemoState(tag=plan.tag, run_dir=str(self.run_dir))
        self.nodes = plan.node_plans()
        self.agents: dict[str, procs.AgentSpec] = {}
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.pod_ips: dict[str, str] = {}
        self.etcd_endpoint: str | None = None
        #: the state file is ours: teardown may remove it
        self.started = False

    @property
    def nodes_file(self) -> Path:
        return self.run_dir / "nodes.yaml"

    @property
    def services_file(self) -> Path:
        return self.run_dir / "services.yaml"

    def _save(self) -> None:
        self.files.save(self.state)

    def _record_netns(self, name: str) -> None:
        self.state.namespaces.append(name)
        self._save()

    # -- bring-up ------------------------------------------------------------------------

    def check_free(self) -> None:
        if self.files.exists():
            raise DemoError(f"a demo is running or was left behind ({self.files.path}): run `contivctl demo down`")

    def up(self) -> None:
        self.check_free()
        self.started = True
        self._save()
        self.run_dir.mkdir(parents=True, exist_ok=False)
        (self.run_dir / "contiv.yaml").write_text(yaml.safe_dump(self.plan.config(), sort_keys=False))
        if not self.plan.etcd:
            write_nodes(self.nodes_file, [n.info() for n in self.nodes])
        if self.plan.service:  # the Service is known from the start; its endpoints once its pods run
            write_services(self.services_file, [svc.service_entry([])])
        with self.progress.step(f"underlay bridge and {len(self.nodes)} node namespaces"):
            topology.build_underlay(self.plan, self._record_netns)
            for node in self.nodes:
                topology.build_node(self.plan, node, self._record_netns)
        if self.plan.etcd:
            with self.progress.step("etcd on a loopback port"):
                self._start_etcd()
        how = "etcd" if self.plan.etcd else "a nodes file"
        with self.progress.step(f"{len(self.nodes)} agents (kernel dataplane, members from {how})"):
            for node in self.nodes:
                self.agents[node.name] = procs.agent_spec(
                    node,
                    self.run_dir,
                    etcd=self.etcd_endpoint,
                    nodes_file=self.nodes_file,
                    services_file=self.services_file if self.plan.service else None,
                )
                self.start_agent(node.name, wait=False)
            for name, spec in self.agents.items():
                procs.wait_ready(spec, self.children[name])
        pod_plans = self.plan.pod_plans()
        if pod_plans:
            with self.progress.step(f"{len(pod_plans)} pods through CNI ADD ({' '.join(pods.cni_command())})"):
                self._add_pods()
        servers = self.plan.server_plans()
        if servers:
            with self.progress.step(f"service {svc.NAMESPACE}/{svc.NAME}: a TCP server in {len(servers)} pods"):
                for p in servers:
                    self._start_server(p.name, p.netns)
                self.set_endpoints([p.name for p in servers])

    def _start_etcd(self) -> None:
        argv, client = procs.etcd_argv(self.run_dir)
        log = str(self.run_dir / "etcd.log")
        proc = procs.spawn(argv, log)
        self.children["etcd"] = proc
        self.state.processes.append(ProcessRecord("etcd", proc.pid, str(self.run_dir)))
        self._save()
        procs.wait_etcd(proc, client, log)
        self.etcd_endpoint = client

    def start_agent(self, node: str, *, wait: bool = True) -> None:
        """Start (or restart) a node's agent with the command line it was first given."""
        spec = self.agents[node]
        proc = procs.spawn(spec.argv, spec.log)
        self.children[node] = proc
        role = f"agent {node}"
        self.state.processes = [p for p in self.state.processes if p.role != role]
        self.state.processes.append(ProcessRecord(role, proc.pid, str(self.run_dir)))
        self._save()
        if wait:
            procs.wait_ready(spec, proc)

    def stop_agent(self, node: str, *, hard: bool = False) -> None:
        """SIGTERM, or with ``hard`` SIGKILL: the agent gets no chance to tidy up (a crash)."""
        proc = self.children[node]
        error = procs.stop_pid(proc.pid, str(self.run_dir), hard=hard)
        if error:
            raise DemoError(error)
        proc.wait()

    def _add_pods(self) -> None:
        command = pods.cni_command()
        self.state.cni_command = command
        records = [
            PodRecord(p.name, p.node, p.netns, p.container_id, self.agents[p.node].cni_socket)
            for p in self.plan.pod_plans()
        ]
        for rec in records:
            topology.build_pod_netns(rec.netns, self._record_netns)
            self.state.pods.append(rec)
        self._save()

        def add(rec: PodRecord) -> str:
            rec.added = True  # from now on the teardown sends DEL, also when ADD fails half-way
            return pods.cni_add(command, rec)

        with ThreadPoolExecutor(CNI_PARALLEL) as pool:
            ips = list(pool.map(add, records))
        for rec, ip in zip(records, ips, strict=True):
            self.pod_ips[rec.name] = ip
        self._save()

    # -- the Service (--service) -------------------------------------------------------

    def _start_server(self, name: str, netns: str) -> None:
        log = str(self.run_dir / f"{name}.log")
        proc = procs.spawn(procs.server_argv(netns, name, self.run_dir, svc.TARGET_PORT), log)
        self.children[f"server {name}"] = proc
        self.state.processes.append(ProcessRecord(f"server {name}", proc.pid, str(self.run_dir)))
        self._save()
        procs.wait_listening(proc, log)

    def set_endpoints(self, names: list[str]) -> None:
        """Make these server pods the Service's endpoints; returns once every agent applied it."""
        by_name = {p.name: p for p in self.plan.server_plans()}
        marks = {n: _last_seq(spec.http) for n, spec in self.agents.items()}
        write_services(self.services_file, [svc.service_entry((self.pod_ips[n], by_name[n].node) for n in names)])
        deadline = time.monotonic() + SERVICE_TIMEOUT
        waiting = dict(marks)
        while waiting:
            for node, mark in list(waiting.items()):
                if any(_is_service_txn(t) for t in procs.transactions(self.agents[node].http) if t["seq"] > mark):
                    del waiting[node]
            if waiting and time.monotonic() > deadline:
                raise DemoError(f"the services file was not applied within {SERVICE_TIMEOUT:.0f}s by {sorted(waiting)}")
            time.sleep(0.05)

    def service_targets(self) -> list[svc.Target]:
        return svc.targets([(n.name, n.address) for n in self.nodes])

    def service_connections(self, rounds: int = 2) -> list[svc.Connection]:
        """From every node and pod, ``rounds`` connections to the cluster IP and to every node port."""
        sources, _ = self.endpoints()
        to = self.service_targets()
        with self.progress.step(f"service: {len(sources)} sources x {len(to)} addresses"):
            return asyncio.run(svc.connection_matrix(sources, to, rounds=rounds))

    # -- members (nodes file) ------------------------------------------------------------

    def set_members(self, names: list[str]) -> None:
        """Rewrite the nodes file to list exactly these nodes: the others leave, these (re)join."""
        if self.plan.etcd:
            raise DemoError("with --etcd the members are in etcd, not in a nodes file")
        members: list[NodeInfo] = [n.info() for n in self.nodes if n.name in names]
        write_nodes(self.nodes_file, members)

    # -- checking ------------------------------------------------------------------------

    def node(self, name: str) -> NodePlan:
        return next(n for n in self.nodes if n.name == name)

    def endpoints(self) -> tuple[list[matrix.Endpoint], list[matrix.Endpoint]]:
        """(sources, targets): every node and pod pings every pod."""
        pod_eps = [
            matrix.Endpoint(p.name, "pod", p.netns, self.pod_ips[p.name])
            for p in self.plan.pod_plans()
            if p.name in self.pod_ips
        ]
        node_eps = [matrix.Endpoint(n.name, "node", n.netns, n.address) for n in self.nodes]
        return node_eps + pod_eps, pod_eps

    def converge(self) -> bool:
        """Until the first pod of every node answers the first pod of every other (etcd takes a moment)."""
        _, targets = self.endpoints()
        first: dict[str, matrix.Endpoint] = {}
        for p in self.plan.pod_plans():
            if p.name in self.pod_ips:
                first.setdefault(p.node, next(t for t in targets if t.name == p.name))
        pairs = [(a, b) for a in first.values() for b in first.values() if a is not b]
        if not pairs:
            return True
        with self.progress.step("nodes know each other"):
            return asyncio.run(matrix.wait_reachable(pairs, CONVERGE_TIMEOUT))

    def ping_matrix(self) -> list[matrix.Ping]:
        sources, targets = self.endpoints()
        with self.progress.step(f"ping matrix: {len(sources)} sources x {len(targets)} pods"):
            return asyncio.run(matrix.ping_matrix(sources, targets))

    def down(self) -> list[str]:
        if not self.started:
            return []
        with self.progress.step("teardown: CNI DEL, agents, namespaces"):
            return teardown(self.files, self.state)


def _last_seq(http: str) -> int:
    return max((int(t["seq"]) for t in procs.transactions(http)), default=0)


def _is_service_txn(txn: dict[str, object]) -> bool:
    trigger = str(txn.get("trigger", ""))
    return bool(txn.get("done", True)) and (trigger.startswith("endpoints ") or "service events" in trigger)


# -- teardown --------------------------------------------------------------------------


def _alive(state: DemoState, role: str) -> bool:
    rec = next((p for p in state.processes if p.role == role), None)
    if rec is None:
        return False
    try:
        return rec.marker in Path(f"/proc/{rec.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return False


def teardown(files: StateFile, state: DemoState) -> list[str]:
    """Undo everything ``state`` lists, last made first; the problems met (each step is tried anyway).

    Pods get a CNI DEL while their agent runs (it releases the address and
    removes the veth, as a runtime's DEL would); a pod whose agent is gone
    only loses its namespace — its node's namespace goes too, with its links.
    """
    problems: list[str] = []  # reported, but the state file may go: nothing is left behind
    leftovers: list[str] = []  # the state file stays, so `demo down` can try again
    command = state.cni_command or pods.cni_command()
    deletable = [p for p in state.pods if p.added and _alive(state, f"agent {p.node}")]
    if deletable:
        with ThreadPoolExecutor(CNI_PARALLEL) as pool:
            problems += [e for e in pool.map(lambda p: pods.cni_del(command, p), deletable) if e]
    agents = [p for p in state.processes if p.role != "etcd"]
    others = [p for p in state.processes if p.role == "etcd"]
    for rec in [*agents, *others]:
        error = procs.stop_pid(rec.pid, rec.marker)
        if error:
            leftovers.append(f"{rec.role}: {error}")
    for name in reversed(state.namespaces):
        error = topology.remove_netns(name)
        if error:
            leftovers.append(error)
    shutil.rmtree(state.run_dir, ignore_errors=True)
    if Path(state.run_dir).exists():
        leftovers.append(f"{state.run_dir} could not be removed")
    if not leftovers:
        files.remove()
    return problems + leftovers
