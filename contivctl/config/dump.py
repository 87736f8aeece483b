"""Config values back to plain data, in the spelling of the file they came from.

The output of ``contivctl config check`` is itself a valid config file of the
same form, so a user can take the effective config as a starting point.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any

import attrs

from contivctl.config.schema import display_key, keys_of
from contivctl.durations import format_duration

_IP_TYPES = (
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
)


def plain(value: Any) -> Any:
    """A config value as YAML/JSON data: addresses and durations become strings."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, _IP_TYPES):
        return str(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    raise TypeError(f"no plain form for {type(value).__name__}")


def to_data(obj: Any, dialect: str) -> dict[str, Any]:
    """Every loadable field of an attrs config object, keyed as in ``dialect``."""
    out: dict[str, Any] = {}
    for field in attrs.fields(type(obj)):
        if not keys_of(field):
            continue
        value = getattr(obj, field.name)
        key = display_key(field, dialect)
        if attrs.has(type(value)):
            out[key] = to_data(value, dialect)
        elif isinstance(value, tuple) and value and attrs.has(type(value[0])):
            out[key] = [to_data(v, dialect) for v in value]
        else:
            out[key] = "" if value is None else plain(value)
    return out
