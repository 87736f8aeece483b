"""Wire compatibility with the original Contiv-VPP CNI protocol, byte for byte, and the generated code is current."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from contivctl.cni.generated.cni_pb2 import CNIReply, CNIRequest
from contivctl.cni.server import SERVICE, RemoteCNI, method_handlers
from tests.cni.support import ROOT

# CNIRequest: fields 1-8, all strings (wire type 2): tag byte = field << 3 | 2
REQUEST = (
    b"\x0a\x05" + b"0.3.1"  # 1 version
    b"\x12\x03" + b"cid"  # 2 container_id
    b"\x1a\x03" + b"/ns"  # 3 network_namespace
    b"\x22\x04" + b"eth0"  # 4 interface_name
    b"\x2a\x02" + b"{}"  # 5 extra_nw_config
    b"\x32\x03" + b"K=V"  # 6 extra_arguments
    b"\x3a\x0a" + b"host-local"  # 7 ipam_type
    b"\x42\x02" + b"{}"  # 8 ipam_data
)

IP = b"\x08\x01" + b"\x12\x01a" + b"\x1a\x01g"  # version=IPV6 (varint), address, gateway
INTERFACE = b"\x0a\x04eth0" + b"\x12\x01m" + b"\x1a\x03/ns" + b"\x22" + bytes([len(IP)]) + IP
ROUTE = b"\x0a\x090.0.0.0/0" + b"\x12\x01g"
DNS = b"\x0a\x01d" + b"\x12\x02n1" + b"\x1a\x01s" + b"\x22\x01o"
# CNIReply: result=1 (varint), error=2, interfaces=4, routes=5, dns=6 (there is no field 3)
REPLY = (
    b"\x08\x01"
    + b"\x12\x01e"
    + b"\x22"
    + bytes([len(INTERFACE)])
    + INTERFACE
    + b"\x2a"
    + bytes([len(ROUTE)])
    + ROUTE
    + b"\x32"
    + bytes([len(DNS)])
    + DNS
)


def test_request_bytes_use_the_original_field_numbers() -> None:
    req = CNIRequest(
        version="0.3.1",
        container_id="cid",
        network_namespace="/ns",
        interface_name="eth0",
        extra_nw_config="{}",
        extra_arguments="K=V",
        ipam_type="host-local",
        ipam_data="{}",
    )
    assert req.SerializeToString() == REQUEST
    assert CNIRequest.FromString(REQUEST) == req


def test_reply_bytes_use_the_original_field_numbers() -> None:
    reply = CNIReply(
        result=1,
        error="e",
        interfaces=[
            CNIReply.Interface(
                name="eth0",
                mac="m",
                sandbox="/ns",
                ip_addresses=[CNIReply.Interface.IP(version=CNIReply.Interface.IP.IPV6, address="a", gateway="g")],
            )
        ],
        routes=[CNIReply.Route(dst="0.0.0.0/0", gw="g")],
        dns=[CNIReply.DNS(domain="d", nameservers=["n1"], search=["s"], options=["o"])],
    )
    assert reply.SerializeToString() == REPLY
    assert CNIReply.FromString(REPLY) == reply


def test_an_original_agents_success_reply_decodes() -> None:
    """What a v2.0 agent sends for an ADD: result 0 (absent), one interface without a MAC, one route."""
    ip = b"\x12\x0b10.1.1.2/32" + b"\x1a\x0810.1.1.1"  # IPV4 is the default: not on the wire
    iface = b"\x0a\x04eth0" + b"\x1a\x11/proc/1234/ns/net" + b"\x22" + bytes([len(ip)]) + ip
    route = b"\x0a\x090.0.0.0/0" + b"\x12\x0810.1.1.1"
    reply = CNIReply.FromString(b"\x22" + bytes([len(iface)]) + iface + b"\x2a" + bytes([len(route)]) + route)
    assert reply.result == 0 and reply.error == ""
    (i,) = reply.interfaces
    assert (i.name, i.mac, i.sandbox) == ("eth0", "", "/proc/1234/ns/net")
    assert [(a.version, a.address, a.gateway) for a in i.ip_addresses] == [
        (CNIReply.Interface.IP.IPV4, "10.1.1.2/32", "10.1.1.1")
    ]
    assert [(r.dst, r.gw) for r in reply.routes] == [("0.0.0.0/0", "10.1.1.1")]


def test_method_paths_are_the_originals_plus_the_new_ones() -> None:
    service = RemoteCNI(lambda event: asyncio.sleep(0), asyncio.Event())
    assert {f"/{SERVICE}/{name}" for name in method_handlers(service)} == {
        "/cni.RemoteCNI/Add",
        "/cni.RemoteCNI/Delete",
        "/cni.RemoteCNI/Check",
        "/cni.RemoteCNI/Status",
        "/cni.RemoteCNI/GarbageCollect",
    }


def test_committed_generated_code_is_what_the_proto_gives_today() -> None:
    res = subprocess.run(
        [sys.executable, "proto/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
