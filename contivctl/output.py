"""One way to print what read commands return: ``-o json|yaml|table``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

FORMATS = ("json", "yaml", "table")


def render(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2)
    if fmt == "yaml":
        import yaml  # only this output needs it; keep it off every other path

        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip("\n")
    if fmt == "table":
        return table(data)
    raise ValueError(f"unknown output format {fmt!r} (allowed: {', '.join(FORMATS)})")


def emit(data: Any, fmt: str, out: TextIO) -> None:
    out.write(render(data, fmt) + "\n")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(_cell(v) for v in value) or "-"
    return str(value)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _flatten(value, name + ".")
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            for i, item in enumerate(value):
                rows += _flatten(item, f"{name}[{i}].")
        else:
            rows.append((name, _cell(value)))
    return rows


def _header(key: str) -> str:
    """A camelCase key as a column title: ``containerId`` → ``CONTAINER_ID``, ``nodeIPs`` → ``NODE_IPS``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).upper()


def table(data: Any) -> str:
    """A mapping as KEY/VALUE rows (nested keys dotted); a list of mappings as columns."""
    if isinstance(data, Mapping):
        rows: list[tuple[str, ...]] = [("KEY", "VALUE"), *_flatten(data)]
    elif isinstance(data, Sequence) and all(isinstance(r, Mapping) for r in data):
        if not data:
            return "(none)"
        headers = list(dict.fromkeys(k for r in data for k in r))
        rows = [tuple(_header(h) for h in headers)]
        rows += [tuple(_cell(r.get(h)) for h in headers) for r in data]
    else:
        return _cell(data)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
