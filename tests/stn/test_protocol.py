"""The STN protocol is the original's on the wire, and its socket is the daemon's alone."""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from contivctl.errors import STNError
from contivctl.model import StolenInterface, StolenRoute
from contivctl.stn.client import STNClient
from contivctl.stn.generated import stn_pb2
from contivctl.stn.generated.stn_pb2 import STNReply, STNRequest
from contivctl.stn.wire import METHODS, SERVICE, from_reply, to_reply
from contivctl.stnd.daemon import Daemon, DaemonOptions, SocketServer, method_handlers

ROOT = Path(__file__).resolve().parents[2]


def test_committed_generated_code_is_what_the_proto_gives_today() -> None:
    res = subprocess.run(
        [sys.executable, "proto/generate_stn.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr


def test_method_paths_and_field_numbers_are_the_originals() -> None:
    assert {f"/{SERVICE}/{name}" for name in method_handlers(Daemon(DaemonOptions(state_file="")))} == {
        "/stn.STN/StealInterface",
        "/stn.STN/ReleaseInterface",
        "/stn.STN/StolenInterfaceInfo",
    }
    # the hand-written table is the .proto's service: its name, methods and message types
    service = stn_pb2.DESCRIPTOR.services_by_name["STN"]
    assert service.full_name == SERVICE
    assert [(m.name, m.input_type.full_name, m.output_type.full_name) for m in service.methods] == [
        (name, "stn.STNRequest", "stn.STNReply") for name in METHODS
    ]
    # bytes as the original's Go code encodes them (field number << 3 | wire type)
    request = STNRequest(interface_name="eth1", dhcp_enabled=True)
    assert request.SerializeToString() == b"\x0a\x04eth1\x10\x01"
    assert STNRequest.FromString(b"\x0a\x04eth1\x10\x01") == request
    reply = STNReply(
        result=1,
        error="e",
        pci_address="p",
        ip_addresses=["a"],
        routes=[STNReply.Route(destination_subnet="d", next_hop_ip="n")],
        kernel_driver="k",
    )
    wire = b"\x08\x01\x12\x01e\x1a\x01p\x22\x01a\x2a\x06\x0a\x01d\x12\x01n\x32\x01k"
    assert reply.SerializeToString() == wire
    assert STNReply.FromString(wire) == reply


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
        from_reply("eth1", STNReply(ip_addresses=["fd00::5/64"]))
    with pytest.raises(STNError, match="boom"):
        from_reply("eth1", STNReply(result=1, error="boom"))


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
    reply = STNReply(
        ip_addresses=[address], routes=[STNReply.Route(destination_subnet=d, next_hop_ip=n) for d, n in routes]
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
        umask = os.umask(0)  # the most open the process could make it: the socket is 0600 whatever
        try:
            await server.start()
        finally:
            os.umask(umask)
        try:
            assert stat.S_IMODE(os.stat(where).st_mode) == 0o600
            assert os.listdir(where.parent) == ["stn.sock"]  # the private directory it was bound in is gone
            with pytest.raises(STNError, match="another process is serving STN"):
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


async def test_failures_travel_as_the_originals_status_codes(sockdir: Path) -> None:
    """What the original's clients look at: the status and its message (nothing here needs root or a NIC)."""
    path = sockdir / "stn.sock"
    server = SocketServer(Daemon(DaemonOptions(socket=str(path), state_file="", watch_link="")), str(path))
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"unix:{path}") as channel:

            async def call(method: str, name: str) -> tuple[grpc.StatusCode, str]:
                stub = channel.unary_unary(
                    f"/{SERVICE}/{method}",
                    request_serializer=STNRequest.SerializeToString,
                    response_deserializer=STNReply.FromString,
                )
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub(STNRequest(interface_name=name), timeout=10)
                return caught.value.code(), caught.value.details()

            assert await call("StealInterface", "") == (grpc.StatusCode.INVALID_ARGUMENT, "no interface name given")
            assert await call("StolenInterfaceInfo", "") == (grpc.StatusCode.NOT_FOUND, "no interface is stolen")
            assert await call("ReleaseInterface", "eth9") == (grpc.StatusCode.NOT_FOUND, "interface eth9 is not stolen")
        with pytest.raises(STNError, match=r"STN daemon \(.*\): stolen interface eth9: interface eth9 is not stolen"):
            await STNClient(str(path)).info("eth9")
    finally:
        await server.stop()
    with pytest.raises(STNError, match="no STN daemon answers on"):
        await STNClient(str(path), timeout=5).info()


async def test_a_socket_path_too_long_for_a_unix_address_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ("d" * 100) / "stn.sock"
    with pytest.raises(STNError, match="AF_UNIX path too long"):
        await SocketServer(Daemon(DaemonOptions(state_file="")), str(path)).start()
    assert not path.parent.exists()
