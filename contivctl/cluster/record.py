"""The etcd key layout and node record of the original, read and written unchanged.

Node IDs live at ``/vnf-agent/contiv-ksr/allocatedIDs/<id>``; the value is
the Go ``encoding/json`` form of the original's ``NodeInfo``::

    {"id":1,"name":"k8s-master","ip_address":"192.168.16.1/24","management_ip_address":"10.20.0.2"}

Later versions added ``ip_addresses`` (a list) and stopped writing the
management IPs. Records are written with every field — ``ip_address`` holds
the first address so that agents reading only that field keep working — and
read in any of the forms, empty fields omitted as Go omits them.

A node's own data (the original's persisted vswitch config, pod and IPAM
records) sits under ``/vnf-agent/<name>/``; removing a node removes that
prefix too.
"""

from __future__ import annotations

import json
from typing import Any

from contivctl.errors import ConfigError, ConfigProblem, RecordError
from contivctl.model import NodeInfo

AGENT_PREFIX = "/vnf-agent/"
KSR_LABEL = "contiv-ksr"
ALLOCATED_IDS = f"{AGENT_PREFIX}{KSR_LABEL}/allocatedIDs/"


def id_key(node_id: int) -> str:
    return f"{ALLOCATED_IDS}{node_id}"


def id_of_key(key: str) -> int | None:
    """The ID a key stands for; None for keys that are not ``allocatedIDs/<positive integer>``."""
    if not key.startswith(ALLOCATED_IDS):
        return None
    tail = key[len(ALLOCATED_IDS) :]
    if not tail.isdigit() or int(tail) < 1:
        return None
    return int(tail)


def check_node_name(name: str) -> str:
    """A node name must address exactly one ``/vnf-agent/<name>/`` prefix and not the shared one."""
    if not name or "/" in name or name != name.strip() or name == KSR_LABEL:
        why = f"must be non-empty, without '/' or surrounding spaces, and not {KSR_LABEL!r}"
        raise ConfigError([ConfigProblem("node name", f"{name!r} cannot be a node name: it {why}")])
    return name


def node_data_prefix(name: str) -> str:
    return f"{AGENT_PREFIX}{check_node_name(name)}/"


def encode(node: NodeInfo) -> bytes:
    data: dict[str, Any] = {"id": node.id, "name": node.name}
    if node.ip_addresses:
        data["ip_address"] = node.ip_addresses[0]
        data["ip_addresses"] = list(node.ip_addresses)
    if node.management_ips:
        data["management_ip_address"] = ",".join(node.management_ips)
    return json.dumps(data, separators=(",", ":")).encode()


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v for v in value if v)
    raise RecordError(f"{field}: {value!r} is not a list of addresses")


def decode(raw: bytes, key: str | None = None) -> NodeInfo:
    """Read a record in any of the original's forms; the key's ID wins over a missing or zero ``id``."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{key or 'node record'}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError(f"{key or 'node record'}: not a JSON object")
    key_id = id_of_key(key) if key else None
    node_id = data.get("id", 0)
    if not isinstance(node_id, int) or isinstance(node_id, bool) or node_id < 0:
        raise RecordError(f"{key or 'node record'}: id {node_id!r} is not a node ID")
    if key_id is not None:
        node_id = key_id  # Go omitted a zero id; the key is what the allocation claimed
    if node_id < 1:
        raise RecordError(f"{key or 'node record'}: no node ID")
    name = data.get("name", "")
    if not isinstance(name, str) or not name:
        raise RecordError(f"{key or 'node record'}: no node name")
    addresses = _strings(data.get("ip_addresses"), "ip_addresses") or _strings(data.get("ip_address"), "ip_address")
    mgmt = data.get("management_ip_address", "")
    if not isinstance(mgmt, str):
        raise RecordError(f"{key or 'node record'}: management_ip_address {mgmt!r} is not a string")
    management = tuple(m.strip() for m in mgmt.split(",") if m.strip())
    return NodeInfo(id=node_id, name=name, ip_addresses=addresses, management_ips=management)
