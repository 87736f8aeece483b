"""The rtnetlink encoder: attribute framing, and the answers the driver parses back."""

from __future__ import annotations

import ipaddress
import struct

from contivctl.dataplane.linux import nlmsg, rtnl


def test_attributes_are_padded_to_four_bytes_and_their_length_excludes_the_padding() -> None:
    encoded = nlmsg.attr_str(3, "eth0")
    length, kind = struct.unpack_from("=HH", encoded)
    assert (length, kind) == (4 + 5, 3)  # "eth0" and its NUL
    assert len(encoded) == 12 and encoded[9:] == b"\0\0\0"
    assert rtnl.parse_attrs(encoded + nlmsg.attr_u32(27, 7), 0) == {3: b"eth0\0", 27: struct.pack("=I", 7)}


def test_a_request_gets_its_header_and_sequence_number() -> None:
    req = nlmsg.del_link(42)
    raw = req.encode(seq=9)
    length, kind, flags, seq, pid = nlmsg.NLMSGHDR.unpack_from(raw)
    assert (length, kind, seq, pid) == (len(raw), nlmsg.RTM_DELLINK, 9, 0)
    assert flags == nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK
    assert nlmsg.link_index(raw[nlmsg.NLMSGHDR.size :]) == 42


def _newlink_answer(index: int, attrs: bytes) -> bytes:
    return struct.pack("=BxHiII", 0, 1, index, 0, 0) + attrs


def test_link_index_and_group_are_read_from_an_answer() -> None:
    answer = _newlink_answer(7, nlmsg.attr_str(3, "cv1") + nlmsg.attr_u32(27, 0x63000001))
    assert nlmsg.link_index_group(answer) == (7, 0x63000001)
    assert nlmsg.link_index_group(_newlink_answer(8, b"")) == (8, 0)


def test_vxlan_attributes_read_back_as_written() -> None:
    local = ipaddress.ip_address("10.77.0.1")
    data = nlmsg.vxlan_data(10, local, 4789)
    info = nlmsg.attr_str(nlmsg.IFLA_INFO_KIND, "vxlan") + nlmsg.attr(nlmsg.IFLA_INFO_DATA, data)
    answer = _newlink_answer(5, nlmsg.attr(nlmsg.IFLA_LINKINFO, info))
    assert nlmsg.vxlan_info(answer) == (10, local, 4789)
    veth = nlmsg.attr_str(nlmsg.IFLA_INFO_KIND, "veth")
    assert nlmsg.vxlan_info(_newlink_answer(5, nlmsg.attr(nlmsg.IFLA_LINKINFO, veth))) is None
    assert nlmsg.vxlan_info(_newlink_answer(5, b"")) is None


def test_a_default_route_has_a_zero_length_destination_and_a_gateway() -> None:
    req = nlmsg.replace_route(
        ipaddress.ip_network("0.0.0.0/0"), oif=3, via=ipaddress.ip_address("10.1.1.1"), protocol=199
    )
    family, dst_len, _src, _tos, table, protocol, scope, kind, _flags = struct.unpack_from("=BBBBBBBBI", req.body)
    assert (family, dst_len, table, protocol) == (2, 0, 254, 199)
    assert (scope, kind) == (nlmsg.RT_SCOPE_UNIVERSE, nlmsg.RTN_UNICAST)
    attrs = rtnl.parse_attrs(req.body, 12)
    assert attrs[rtnl.RTA_GATEWAY] == bytes([10, 1, 1, 1]) and attrs[rtnl.RTA_OIF] == struct.pack("=I", 3)
    assert req.flags & nlmsg.NLM_F_REPLACE and req.flags & nlmsg.NLM_F_CREATE
