"""The CNI server's message codec: a request that does not decode is the sender's error, said so.

grpclib's codec lets a decoding failure escape as any exception, which the
server logs as an application error and answers with a bare "Internal
Server Error". And the decoder is lenient: bytes with a wire type proto3
does not have (a group's end, say) decode into a message whose string
field is None, which fails later, far from the cause. Anything that can
open the socket can send any bytes; they deserve an INVALID_ARGUMENT naming
the message type and what was wrong, and the agent's log should not read
as if the agent had failed.

Decoding also runs on the event loop, and the decoder keeps the fields it
does not know in a way that costs quadratic time: a megabyte of them took
fourteen seconds, every pod waiting. So the wire format is walked first, in
one linear pass: wire types are checked against the fields they belong to,
fields unknown to this agent (those of a newer plugin) are dropped, and a
message of more fields than any request has is refused.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grpclib.const import Status
from grpclib.encoding.proto import ProtoCodec
from grpclib.exceptions import GRPCError

from contivctl.errors import MalformedMessage

#: fields in one request at the most, nested ones included: a GC of 10,000 attachments has 30,000
MAX_FIELDS = 100_000
_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
#: the wire type of each protobuf type (packed repeated scalars come length-delimited as well)
_WIRE = {
    **dict.fromkeys(("string", "bytes", "message", "map"), _LENGTH),
    **dict.fromkeys(("double", "fixed64", "sfixed64"), _FIXED64),
    **dict.fromkeys(("float", "fixed32", "sfixed32"), _FIXED32),
}
_INTEGERS = ("int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64")
#: the Python type each scalar protobuf type decodes to
_PYTHON: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "bytes": bytes,
    "bool": bool,
    "enum": int,
    "double": (float, int),
    "float": (float, int),
    **dict.fromkeys(_INTEGERS, int),
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise MalformedMessage("cut short inside a number")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift >= 70:
            raise MalformedMessage("a number longer than ten bytes")


def known_fields(data: bytes, message_type: Any, budget: list[int] | None = None) -> bytes:
    """``data`` with only the fields ``message_type`` has, each checked for its wire type (MalformedMessage if not)."""
    budget = [MAX_FIELDS] if budget is None else budget
    meta = getattr(message_type, "_betterproto", None)
    if meta is None:
        return data
    out = bytearray()
    pos = 0
    while pos < len(data):
        budget[0] -= 1
        if budget[0] < 0:
            raise MalformedMessage(f"more than {MAX_FIELDS} fields")
        start = pos
        tag, pos = _varint(data, pos)
        tag_end = pos
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise MalformedMessage("a field numbered 0")
        payload = pos
        if wire == _VARINT:
            _, pos = _varint(data, pos)
        elif wire == _FIXED64:
            pos += 8
        elif wire == _FIXED32:
            pos += 4
        elif wire == _LENGTH:
            length, payload = _varint(data, pos)
            pos = payload + length
        else:
            raise MalformedMessage(f"wire type {wire} of field {number}: not proto3")
        if pos > len(data):
            raise MalformedMessage(f"cut short inside field {number}")
        name = meta.field_name_by_number.get(number)
        if name is None:
            continue  # a field of a newer sender: this agent has no use for it
        field = meta.meta_by_field_name[name]
        expected = _WIRE.get(field.proto_type, _VARINT)
        if wire != expected and not (field.repeated and wire == _LENGTH and expected != _LENGTH):
            raise MalformedMessage(f"field {number} ({name}) has wire type {wire}, not {expected}")
        if field.proto_type == "message" and field.map_meta is None:
            inner = known_fields(data[payload:pos], meta.cls_by_field[name], budget)
            out += data[start:tag_end] + _encode_varint(len(inner)) + inner
        else:
            out += data[start:pos]
    return bytes(out)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def malformed(message: Any, path: str = "") -> str | None:
    """The first field of a decoded message that does not hold a value of its type, or None."""
    for field in dataclasses.fields(message):
        meta = field.metadata.get("betterproto")
        if meta is None:
            continue
        value = getattr(message, field.name)
        name = f"{path}{field.name}"
        if meta.repeated and not isinstance(value, list):
            return f"{name} is not a list"
        for item in value if meta.repeated else [value]:
            if meta.proto_type == "message":
                if item is None:
                    if meta.repeated:
                        return f"{name} holds an empty entry"
                    continue
                problem = malformed(item, f"{name}.")
                if problem is not None:
                    return problem
                continue
            if item is None and meta.optional:
                continue
            expected = _PYTHON.get(meta.proto_type)
            if expected is not None and not isinstance(item, expected):
                return f"{name} is not a {meta.proto_type}"
    return None


class RequestCodec(ProtoCodec):
    def decode(self, data: bytes, message_type: Any) -> Any:
        name = getattr(message_type, "__name__", "request")
        try:
            message = super().decode(known_fields(data, message_type), message_type)
        except Exception as exc:  # whatever the decoder raises: the bytes are not that message
            raise GRPCError(Status.INVALID_ARGUMENT, f"not a valid {name} message: {exc}") from None
        problem = malformed(message) if dataclasses.is_dataclass(message) else None
        if problem is not None:
            raise GRPCError(Status.INVALID_ARGUMENT, f"not a valid {name} message: {problem}")
        return message
