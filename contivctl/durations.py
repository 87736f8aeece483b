"""Durations as people write them ("30s", "5m", "1h30m").

The original agent took some durations as bare integers in a unit that only
its code knew (minutes for NAT timeouts, nanoseconds elsewhere). Configs from
it must keep working, so a bare number is read in the unit the field had in
the original; new configs should use a unit suffix.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "ns": timedelta(microseconds=0.001),
    "us": timedelta(microseconds=1),
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")


def parse_duration(text: str) -> timedelta:
    """Parse Go-style duration text such as ``"1h30m"``; raise ValueError if it is not one."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = timedelta(0)
    for match in _PART.finditer(s):
        if match.start() != pos:
            break
        try:
            total += float(match.group(1)) * _UNITS[match.group(2)]
        except OverflowError:
            raise ValueError(f"{text!r} is longer than any duration this agent can hold") from None
        pos = match.end()
    if pos != len(s):
        raise ValueError(f"{text!r} is not a duration (use e.g. 30s, 5m, 1h30m)")
    return total


def format_duration(value: timedelta) -> str:
    """Render a duration in the shortest exact form that parse_duration reads back."""
    micros = round(value.total_seconds() * 1_000_000)
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, micros_left = divmod(rest, 1_000_000)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if micros_left:
        frac = f"{micros_left:06d}".rstrip("0")
        out += f"{seconds}.{frac}s"
    elif seconds:
        out += f"{seconds}s"
    return sign + out
