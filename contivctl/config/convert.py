"""Converters from raw YAML values to typed config values.

Each raises ValueError with a sentence that names the bad value and what is
allowed; the loader prefixes it with the key path.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from contivctl.config.schema import type_name
from contivctl.durations import parse_duration
from contivctl.iptypes import IPAddress, IPInterface, IPNetwork


def boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    raise ValueError(f"expected true or false, got {type_name(raw)} {raw!r}")


def text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    raise ValueError(f"expected a string, got {type_name(raw)} {raw!r}")


def uint(bits: int) -> Callable[[Any], int]:
    top = (1 << bits) - 1

    def convert(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"expected a whole number from 0 to {top}, got {type_name(raw)} {raw!r}")
        if not 0 <= raw <= top:
            raise ValueError(f"{raw} is out of range (0 to {top})")
        return raw

    return convert


def choice(*allowed: str) -> Callable[[Any], str]:
    def convert(raw: Any) -> str:
        value = text(raw)
        if value.lower() not in allowed:
            shown = ", ".join(repr(a) for a in allowed)
            raise ValueError(f"{value!r} is not one of {shown}")
        return value.lower()

    return convert


def cidr(raw: Any) -> IPNetwork | None:
    """A network such as ``10.1.0.0/16``; empty means unset."""
    value = text(raw).strip()
    if not value:
        return None
    if "/" not in value:
        raise ValueError(f"{value!r} is not a CIDR: it has no prefix length (e.g. 10.1.0.0/16)")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        if "has host bits set" in str(exc):
            net = ipaddress.ip_network(value, strict=False)
            raise ValueError(f"{value!r} has host bits set; the network is {net}") from None
        raise ValueError(f"{value!r} is not a valid CIDR (e.g. 10.1.0.0/16)") from None


def interface_address(raw: Any) -> IPInterface | None:
    """An address with its prefix such as ``192.168.16.1/24``; empty means unset."""
    value = text(raw).strip()
    if not value:
        return None
    if "/" not in value:
        raise ValueError(f"{value!r} has no prefix length (e.g. 192.168.16.1/24)")
    try:
        return ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid address/prefix (e.g. 192.168.16.1/24)") from None


def address(raw: Any) -> IPAddress | None:
    """A plain IP address; empty means unset."""
    value = text(raw).strip()
    if not value:
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a valid IP address") from None


def duration(bare_unit: timedelta, *, maximum: timedelta | None = None) -> Callable[[Any], timedelta]:
    """A duration: text with a unit (``"30s"``), or a bare number counted in ``bare_unit``."""

    def convert(raw: Any) -> timedelta:
        if isinstance(raw, bool):
            raise ValueError(f"expected a duration such as 30s or 5m, got boolean {raw!r}")
        if isinstance(raw, int | float):
            try:
                value = raw * bare_unit
            except (OverflowError, ValueError):  # beyond what a duration holds, or not a number (NaN)
                raise ValueError(f"{raw!r} is not a duration this agent can hold") from None
        elif isinstance(raw, str):
            stripped = raw.strip()
            if stripped.startswith("-"):
                raise ValueError(f"{raw!r} is negative; a timeout must be 0 or more")
            try:
                value = parse_duration(stripped)
            except ValueError as exc:
                raise ValueError(str(exc)) from None
        else:
            raise ValueError(f"expected a duration such as 30s or 5m, got {type_name(raw)} {raw!r}")
        if value < timedelta(0):
            raise ValueError(f"{raw!r} is negative; a timeout must be 0 or more")
        if maximum is not None and value > maximum:
            raise ValueError(f"{raw!r} is longer than the maximum of {maximum}")
        return value

    return convert
