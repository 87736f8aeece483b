"""How API handlers are declared and what they may touch.

A handler receives the decoded request (vpp_papi's namedtuple) and a
`Context`, and either returns the reply's fields (retval is added for it),
yields details for a dump, or raises `VppApiError`. Handlers that must wait
for the kernel are declared async; everything else runs inline on the
event loop so the common path costs one function call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from ..errors import Retval, VppApiError

if TYPE_CHECKING:
    from ..apidefs import ApiDefinitions
    from ..kernel import Kernel
    from ..state import VppState

Fields = dict[str, Any]
Kind = Literal["reply", "dump", "stream"]


class Context(Protocol):
    """What a handler sees of the emulator: state, its caller, and event fan-out."""

    @property
    def state(self) -> VppState: ...

    @property
    def handle(self) -> int: ...

    @property
    def kernel(self) -> Kernel: ...

    @property
    def defs(self) -> ApiDefinitions: ...

    def subscribe(self, topic: str, enable: bool, pid: int) -> None: ...

    def publish(self, topic: str, event: str, fields: Fields) -> None: ...

    def send_to(self, handle: int, event: str, fields: Fields) -> bool: ...


@attrs.frozen
class Handler:
    name: str
    fn: Callable[[Context, Any], Any]
    kind: Kind
    is_async: bool


HANDLERS: dict[str, Handler] = {}


def _register(name: str, kind: Kind, is_async: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in HANDLERS:
            raise ValueError(f"two handlers for {name}")
        HANDLERS[name] = Handler(name, fn, kind, is_async)
        return fn

    return deco


def reply(
    *names: str,
) -> Callable[[Callable[[Context, Any], Fields | None]], Callable[[Context, Any], Fields | None]]:
    def deco(fn: Callable[[Context, Any], Fields | None]) -> Callable[[Context, Any], Fields | None]:
        for n in names:
            _register(n, "reply", False)(fn)
        return fn

    return deco


def async_reply(
    *names: str,
) -> Callable[[Callable[[Context, Any], Awaitable[Fields | None]]], Callable[[Context, Any], Awaitable[Fields | None]]]:
    def deco(
        fn: Callable[[Context, Any], Awaitable[Fields | None]],
    ) -> Callable[[Context, Any], Awaitable[Fields | None]]:
        for n in names:
            _register(n, "reply", True)(fn)
        return fn

    return deco


def dump(
    *names: str,
) -> Callable[[Callable[[Context, Any], Iterable[Fields]]], Callable[[Context, Any], Iterable[Fields]]]:
    def deco(fn: Callable[[Context, Any], Iterable[Fields]]) -> Callable[[Context, Any], Iterable[Fields]]:
        for n in names:
            _register(n, "dump", False)(fn)
        return fn

    return deco


def stream(
    *names: str,
) -> Callable[
    [Callable[[Context, Any], tuple[Fields, list[Fields]]]],
    Callable[[Context, Any], tuple[Fields, list[Fields]]],
]:
    """Cursor streams (`stream_msg` services): details, then the reply with a cursor."""

    def deco(
        fn: Callable[[Context, Any], tuple[Fields, list[Fields]]],
    ) -> Callable[[Context, Any], tuple[Fields, list[Fields]]]:
        for n in names:
            _register(n, "stream", False)(fn)
        return fn

    return deco


# ---- small helpers shared by handler modules


def ensure(cond: bool, retval: Retval, detail: str = "") -> None:
    if not cond:
        raise VppApiError(retval, detail)


def text(value: Any) -> str:
    """vpp_papi hands back fixed strings NUL-stripped already; bytes occasionally."""
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode(errors="replace")
    return str(value)


def mac_bytes(value: Any) -> bytes:
    """A mac_address field as 6 bytes (papi gives a MACAddress object)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    packed = getattr(value, "packed", None)
    if packed is not None:
        return bytes(packed)
    return bytes.fromhex(str(value).replace(":", ""))


def ip_of(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    return ipaddress.ip_address(value)
