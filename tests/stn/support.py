"""A NIC to steal that is no NIC of this machine, and the STN daemon run as it runs on a node.

The "NIC" is one end of a veth pair in a namespace of the test's making
(the node's host stack); its other end is in a second namespace, the LAN,
so the NIC has a carrier. The daemon is a real ``contivctl stn`` process
inside the host namespace (``ip netns exec``), so signals and the link
watch are what a node has. Everything is removed afterwards, whatever the
test did: the process, both namespaces (with them their links), the files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "192.168.77.1"
NIC_IP = "192.168.77.5/24"


async def given_back(nic: StandInNic, before: dict[str, Any], timeout: float = 20.0) -> None:
    """Wait until the NIC is as it was; at the deadline fail with the difference."""
    from tests.polling import until

    try:
        await until(lambda: nic.snapshot() == before, timeout=timeout)
    except AssertionError:
        assert nic.snapshot() == before
        raise


def sh(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def ip_json(netns: str, *args: str) -> Any:
    return json.loads(sh("ip", "-n", netns, "-j", *args) or "[]")


@attrs.define
class StandInNic:
    """The stand-in NIC and the namespaces around it."""

    tag: str
    host: str  # namespace of the node's host stack (where the daemon runs)
    lan: str
    nic: str

    @property
    def host_path(self) -> str:
        return f"/var/run/netns/{self.host}"

    def snapshot(self) -> dict[str, Any]:
        """What `ip -j` shows of the host namespace: the NIC with its addresses, and every route."""
        links = ip_json(self.host, "addr", "show", "dev", self.nic)
        for link in links:
            link.pop("link_netnsid", None)  # an id of the peer's namespace, not the NIC's state
        return {
            "addr": links,
            "route4": ip_json(self.host, "route", "show", "table", "all"),
            "route6": ip_json(self.host, "-6", "route", "show", "table", "all"),
        }

    def addresses(self) -> list[str]:
        return [
            f"{a['local']}/{a['prefixlen']}"
            for link in ip_json(self.host, "addr", "show", "dev", self.nic)
            for a in link["addr_info"]
        ]

    def is_up(self) -> bool:
        return "UP" in ip_json(self.host, "link", "show", "dev", self.nic)[0]["flags"]


@contextlib.contextmanager
def stand_in_nic(*, extra: bool = True) -> Iterator[StandInNic]:
    """A veth "NIC" configured like a node's: addresses, a default route, a static route, IPv6."""
    tag = uuid.uuid4().hex[:8]
    n = StandInNic(tag=tag, host=f"stn{tag}-host", lan=f"stn{tag}-lan", nic=f"stn{tag}n")
    try:
        sh("ip", "netns", "add", n.host)
        sh("ip", "netns", "add", n.lan)
        # no duplicate address detection: addresses given back are usable (and compare equal) at once
        for key in ("all", "default"):
            sh("ip", "netns", "exec", n.host, "sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
        sh("ip", "-n", n.host, "link", "add", n.nic, "type", "veth", "peer", "name", f"stn{tag}l", "netns", n.lan)
        sh("ip", "-n", n.lan, "link", "set", f"stn{tag}l", "up")
        sh("ip", "-n", n.host, "link", "set", "lo", "up")
        sh("ip", "-n", n.host, "link", "set", n.nic, "up")
        sh("ip", "-n", n.host, "addr", "add", NIC_IP, "dev", n.nic)
        sh("ip", "-n", n.host, "route", "add", "default", "via", GATEWAY, "dev", n.nic)
        if extra:
            sh("ip", "-n", n.host, "addr", "add", "10.66.0.5/16", "brd", "+", "dev", n.nic, "label", f"{n.nic}:b")
            sh("ip", "-n", n.host, "route", "add", "10.67.0.0/16", "via", "192.168.77.2", "metric", "50")
            sh("ip", "-n", n.host, "route", "add", "10.68.0.0/16", "via", "192.168.77.3", "table", "100")
            sh("ip", "-n", n.host, "-6", "addr", "add", "fd77::5/64", "dev", n.nic, "nodad")
            sh("ip", "-n", n.host, "-6", "route", "add", "fd78::/64", "via", "fd77::1")
        yield n
    finally:
        for ns in (n.host, n.lan):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@attrs.define
class Daemon:
    proc: subprocess.Popen[bytes]
    socket: Path
    state_file: Path
    log: Path

    def logged(self, text: str) -> bool:
        return text in self.log.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the STN daemon did not stop on {signal.Signals(sig).name}") from None


def daemon_args(socket: Path, state_file: Path, watch_link: str = "", grace: float = 30.0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "contivctl",
        "stn",
        "--socket",
        str(socket),
        "--state-file",
        str(state_file),
        "--watch-link",
        watch_link,
        "--grace",
        str(grace),
        "--watch-interval",
        "0.05",
    ]


@contextlib.contextmanager
def running_daemon(nic: StandInNic, workdir: Path, **kw: Any) -> Iterator[Daemon]:
    """``contivctl stn`` in the NIC's host namespace, until the block ends (then SIGTERM, SIGKILL at worst)."""
    socket = workdir / "run" / "stn.sock"
    state = workdir / "stn-state.json"
    log = workdir / f"stn-{uuid.uuid4().hex[:6]}.log"
    d = start_daemon(nic, socket, state, log, **kw)
    try:
        yield d
    finally:
        if d.proc.poll() is None:
            d.stop()


def start_daemon(nic: StandInNic, socket: Path, state: Path, log: Path, **kw: Any) -> Daemon:
    import time

    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", nic.host, *daemon_args(socket, state, **kw)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    d = Daemon(proc, socket, state, log)
    deadline = time.monotonic() + 20
    while not d.logged("STN server listening"):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                d.stop(signal.SIGKILL)
            raise AssertionError(f"the STN daemon did not start: {log.read_text()}")
        time.sleep(0.02)
    return d
