"""The STN protocol is the original's on the wire, and its socket is the daemon's alone."""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from contivctl.errors import STNError
from contivctl.model import StolenInterface, StolenRoute
from contivctl.stn.generated.stn import StnBase, StnReply, StnReplyRoute, StnRequest
from contivctl.stn.wire import from_reply, to_reply
from contivctl.stnd.daemon import Daemon, DaemonOptions, SocketServer

ROOT = Path(__file__).resolve().parents[2]


def test_committed_generated_code_is_what_the_proto_gives_today() -> None:
    res = subprocess.run(
        [sys.executable, "proto/generate_stn.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr


def test_method_paths_and_field_numbers_are_the_originals() -> None:
    class Service(StnBase):
        pass

    assert set(Service().__mapping__()) == {
        "/stn.STN/StealInterface",
        "/stn.STN/ReleaseInterface",
        "/stn.STN/StolenInterfaceInfo",
    }
    # bytes as the original's Go code encodes them (field number << 3 | wire type)
    assert bytes(StnRequest(interface_name="eth1", dhcp_enabled=True)) == b"\x0a\x04eth1\x10\x01"
    reply = StnReply(
        result=1,
        error="e",
        pci_address="p",
        ip_addresses=["a"],
        routes=[StnReplyRoute(destination_subnet="d", next_hop_ip="n")],
        kernel_driver="k",
    )
    assert bytes(reply) == b"\x08\x01\x12\x01e\x1a\x01p\x22\x01a\x2a\x06\x0a\x01d\x12\x01n\x32\x01k"


def test_reply_round_trip_and_the_default_route_as_the_original_writes_it() -> None:
    stolen = StolenInterface(
        name="eth1",
        addresses=(ipaddress.IPv4Interface("10.0.0.5/24"),),
        routes=(
            StolenRoute(None, ipaddress.IPv4Address("10.0.0.1")),
            StolenRoute(ipaddress.IPv4Network("10.0.0.0/24")),
        ),
        pci_address="0000:00:08.0",
        kernel_driver="ixgbe",
    )
    reply = to_reply(stolen)
    assert [(r.destination_subnet, r.next_hop_ip) for r in reply.routes] == [("", "10.0.0.1"), ("10.0.0.0/24", "")]
    assert from_reply("eth1", reply) == stolen
    reply.routes[0].destination_subnet = "0.0.0.0/0"
    assert from_reply("eth1", reply) == stolen
    with pytest.raises(STNError, match="not IPv4"):
        from_reply("eth1", StnReply(ip_addresses=["fd00::5/64"]))
    with pytest.raises(STNError, match="boom"):
        from_reply("eth1", StnReply(result=1, error="boom"))


@pytest.mark.parametrize(
    ("address", "routes", "gateway"),
    [
        ("10.0.0.5/24", [("", "10.0.0.254")], "10.0.0.254"),  # the default route's next hop
        ("10.0.0.5/24", [("10.0.0.0/24", "")], "10.0.0.1"),  # none: the subnet's first host
        ("10.0.0.1/24", [], "10.0.0.254"),  # ... unless it is the node's own: the last one
        ("10.0.0.5/32", [], None),  # no address to spare
    ],
)
def test_gateway_and_the_made_up_one(address: str, routes: list[tuple[str, str]], gateway: str | None) -> None:
    reply = StnReply(
        ip_addresses=[address], routes=[StnReplyRoute(destination_subnet=d, next_hop_ip=n) for d, n in routes]
    )
    found = from_reply("eth1", reply).gateway
    assert (str(found) if found else None) == gateway


async def test_socket_private_parent_made_stale_one_replaced(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "stn.sock"
    stale = socket.socket(socket.AF_UNIX)
    path.parent.mkdir(parents=True)
    os.chmod(path.parent, 0o755)
    stale.bind(str(path))
    stale.close()  # a socket file nobody listens on: a daemon that died
    other = tmp_path / "fresh" / "stn.sock"
    for where in (path, other):
        server = SocketServer(Daemon(DaemonOptions(socket=str(where), state_file="")), str(where))
        await server.start()
        try:
            assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
            with pytest.raises(STNError, match="another STN daemon"):
                await SocketServer(Daemon(DaemonOptions(state_file="")), str(where)).start()
        finally:
            await server.stop()
        assert not where.exists()
    assert stat.S_IMODE(os.stat(other.parent).st_mode) == 0o700  # made by the daemon
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o755  # someone else's: left as it was
    path.write_text("not a socket")
    with pytest.raises(STNError, match="not a socket"):
        await SocketServer(Daemon(DaemonOptions(state_file="")), str(path)).start()
    assert path.read_text() == "not a socket"
