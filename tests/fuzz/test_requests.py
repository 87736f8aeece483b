"""What the fuzzers found, pinned down: the CNI server's decoding and the checks of a pod's request."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from contivctl.cni.generated.cni_pb2 import Attachment, CNIRequest, GCRequest
from contivctl.cni.server import StatusError, _decoded
from contivctl.controller.requests import check_add
from contivctl.errors import InvalidRequest
from contivctl.events import AddPod
from contivctl.model import PodRef


def invalid(data: bytes, kind: type) -> str:
    with pytest.raises(StatusError) as err:
        _decoded(kind, data)
    assert err.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return err.value.message


def test_a_group_wire_type_is_refused_naming_the_message() -> None:
    assert "cni.CNIRequest could not be decoded" in invalid(b"$$", CNIRequest)  # field 4, wire type 4 (end group)


def test_bytes_cut_short_are_refused() -> None:
    whole = CNIRequest(container_id="abc", interface_name="eth0").SerializeToString()
    assert "could not be decoded" in invalid(whole[:-1], CNIRequest)


def test_fields_of_a_newer_sender_are_passed_over_and_the_rest_read() -> None:
    request = CNIRequest(version="1.1.0", container_id="abc", network_namespace="/x", interface_name="eth0")
    decoded = _decoded(CNIRequest, request.SerializeToString() + b"\xf8\x07\x01")  # field 127, a number
    assert decoded.ListFields() == request.ListFields()


def test_a_field_of_another_wire_type_is_an_unknown_field_not_a_value() -> None:
    assert _decoded(CNIRequest, b"\x10\x01").container_id == ""  # container_id (a string) sent as a number


def test_a_megabyte_of_unknown_fields_decodes() -> None:
    garbage = CNIRequest(container_id="x" * (1 << 20)).SerializeToString()  # read as a GCRequest
    assert isinstance(_decoded(GCRequest, garbage), GCRequest)


def test_a_gc_of_many_attachments_decodes() -> None:
    gc = GCRequest(version="1.1.0", valid_attachments=[Attachment(container_id="a" * 64, interface_name="eth0")] * 5000)
    assert _decoded(GCRequest, gc.SerializeToString()) == gc


def add(**kw: object) -> AddPod:
    fields: dict[str, object] = {
        "container_id": "abc",
        "ifname": "eth0",
        "netns": "/var/run/netns/x",
        "pod": PodRef("default", "web"),
    }
    fields.update(kw)
    return AddPod(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"container_id": ""}, "container ID '' is empty"),
        ({"container_id": "-abc"}, "must start with a letter or a digit"),
        ({"container_id": "a/b"}, "may hold only letters, digits"),
        ({"container_id": "x" * 2000}, "… (2000 characters) is longer than 1024 characters"),
        ({"ifname": "a" * 16}, "is longer than 15 bytes"),
        ({"ifname": ".."}, "is not a usable interface name"),
        ({"ifname": "e th0"}, "white space"),
        ({"netns": "relative"}, "is not an absolute path"),
        ({"netns": "/x\0"}, "contains NUL"),
        ({"pod": PodRef("default", "p" * 300)}, "K8S_POD_NAME 'pppp"),
    ],
)
def test_a_malformed_add_is_refused_naming_the_field(change: dict[str, object], said: str) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidRequest) as err:
            check_add(add(**change))
        assert said in str(err.value) and len(str(err.value)) < 200

    asyncio.run(scenario())


def test_a_well_formed_add_passes() -> None:
    async def scenario() -> None:
        check_add(add(container_id="0" * 64, ifname="net1", uid="0b7e6c1c-8a8f-4c1e-9d1f-2f1e0e7f9a10"))

    asyncio.run(scenario())
