"""The STN protocol's names, and a stolen interface as the protocol carries it, both ways.

The service and its methods are the original's (``proto/stn.proto``); both
the daemon's method table and the client's calls are written by hand from
these names (the messages are generated, ``contivctl/stn/generated``). The
reply is text (``"192.168.16.5/24"``, ``""`` for the default route's
destination); inside contivctl it is a ``StolenInterface`` with typed
addresses, parsed once here so that nothing downstream parses text again.
"""

from __future__ import annotations

import ipaddress

from contivctl.errors import STNError
from contivctl.model import StolenInterface, StolenRoute
from contivctl.stn.generated.stn_pb2 import STNReply

#: the service's full name: the method paths are /stn.STN/<method>, as in the original protocol
SERVICE = "stn.STN"
#: its methods, each taking an STNRequest and answering an STNReply
STEAL = "StealInterface"
RELEASE = "ReleaseInterface"
INFO = "StolenInterfaceInfo"
METHODS = (STEAL, RELEASE, INFO)


def to_reply(stolen: StolenInterface) -> STNReply:
    return STNReply(
        result=0,
        pci_address=stolen.pci_address,
        ip_addresses=[str(a) for a in stolen.addresses],
        routes=[
            STNReply.Route(
                destination_subnet="" if r.dst is None else str(r.dst),
                next_hop_ip="" if r.via is None else str(r.via),
            )
            for r in stolen.routes
        ],
        kernel_driver=stolen.kernel_driver,
    )


def from_reply(name: str, reply: STNReply) -> StolenInterface:
    """The interface ``name`` as ``reply`` describes it; STNError when the reply says failure or is not readable."""
    if reply.result != 0:
        raise STNError(f"the STN daemon could not tell of {name or 'the stolen interface'}: {reply.error}")
    try:
        addresses = tuple(ipaddress.IPv4Interface(a) for a in reply.ip_addresses)
        routes = tuple(
            StolenRoute(
                dst=_destination(r.destination_subnet),
                via=ipaddress.IPv4Address(r.next_hop_ip) if r.next_hop_ip else None,
            )
            for r in reply.routes
        )
    except ValueError as exc:
        raise STNError(f"the STN daemon's answer about {name or 'the stolen interface'} is not IPv4: {exc}") from None
    return StolenInterface(
        name=name,
        addresses=addresses,
        routes=routes,
        pci_address=reply.pci_address,
        kernel_driver=reply.kernel_driver,
    )


def _destination(text: str) -> ipaddress.IPv4Network | None:
    # the original writes the default route's destination as "" (Go's nil), some clients as 0.0.0.0/0
    if not text or text.startswith("0.0.0.0"):
        return None
    return ipaddress.IPv4Network(text, strict=False)
