"""The CNI specification as the plugin executable obeys it: versions, commands, environment, netconf, errors.

Standard library only, and nothing but definitions and checks: every bad
input is found here, before the plugin imports its gRPC client, so a
runtime that got something wrong learns it in the time the interpreter
takes to start.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

CURRENT_VERSION = "1.1.0"
SUPPORTED_VERSIONS = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

# Error codes of the spec (0-99 are reserved to it); 100 is this plugin's "the agent failed".
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENVIRONMENT = 4
IO_FAILURE = 5
DECODING_FAILURE = 6
INVALID_NETWORK_CONFIG = 7
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50
NOT_AVAILABLE_LIMITED_CONNECTIVITY = 51
AGENT_FAILED = 100

#: environment variables each command needs, non-empty (spec 1.1, "Parameters")
REQUIRED_ENV: Mapping[str, tuple[str, ...]] = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"),
    "GC": ("CNI_PATH",),
    "STATUS": (),
    "VERSION": (),
}

#: the first version of the spec that has each command
SINCE: Mapping[str, str] = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}

VALID_ATTACHMENTS = "cni.dev/valid-attachments"
DEFAULT_TIMEOUT = 30.0

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")


class CNIError(Exception):
    """A failure as the spec's error object: a code, a message, details."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def check_env(env: Mapping[str, str]) -> str:
    """The command, once every variable it needs is there and usable (else code 4 naming the variable)."""
    command = env.get("CNI_COMMAND", "")
    if not command:
        raise CNIError(INVALID_ENVIRONMENT, "CNI_COMMAND is missing or empty")
    if command not in REQUIRED_ENV:
        raise CNIError(
            INVALID_ENVIRONMENT,
            f"CNI_COMMAND: unknown command {command!r}",
            "one of " + ", ".join(REQUIRED_ENV),
        )
    for name in REQUIRED_ENV[command]:
        if not env.get(name):
            raise CNIError(INVALID_ENVIRONMENT, f"{name} is missing or empty", f"required for {command}")
    cid = env.get("CNI_CONTAINERID", "")
    if cid and not (cid[0] in _ALNUM and set(cid) <= _ID_CHARS):
        raise CNIError(
            INVALID_ENVIRONMENT,
            f"CNI_CONTAINERID {cid!r} is not a valid container ID",
            "a letter or digit, then letters, digits, '_', '.' or '-'",
        )
    ifname = env.get("CNI_IFNAME", "")
    if ifname:
        problem = ifname_problem(ifname)
        if problem:
            raise CNIError(INVALID_ENVIRONMENT, f"CNI_IFNAME {ifname!r} {problem}")
    return command


def ifname_problem(name: str) -> str:
    """Why Linux would refuse `name` as an interface name, or ''."""
    if len(name.encode()) > 15:
        return "is longer than 15 bytes"
    if name in (".", ".."):
        return "is not a usable name"
    if any(c in name for c in "/:") or any(c.isspace() for c in name):
        return "contains '/', ':' or white space"
    return ""


def parse_netconf(data: bytes) -> dict[str, Any]:
    try:
        conf = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CNIError(DECODING_FAILURE, "cannot decode the network configuration on stdin", str(exc)) from None
    if not isinstance(conf, dict):
        raise CNIError(DECODING_FAILURE, "the network configuration on stdin is not a JSON object")
    return conf


def check_version(conf: Mapping[str, Any], command: str) -> str:
    version = conf.get("cniVersion")
    if not isinstance(version, str) or not version:
        raise CNIError(INVALID_NETWORK_CONFIG, "cniVersion is missing or not a string")
    if version not in SUPPORTED_VERSIONS:
        raise CNIError(
            INCOMPATIBLE_VERSION,
            "incompatible CNI versions",
            f"config is {version!r}, plugin supports {list(SUPPORTED_VERSIONS)}",
        )
    since = SINCE.get(command)
    if since is not None and _version_key(version) < _version_key(since):
        raise CNIError(INCOMPATIBLE_VERSION, f"config version {version} does not allow {command}", f"needs {since}")
    return version


def grpc_server(conf: Mapping[str, Any]) -> str:
    """``grpcServer``: a unix socket path (starting with '/') or host:port, as in the original conflist."""
    server = conf.get("grpcServer")
    if not isinstance(server, str) or not server:
        raise CNIError(INVALID_NETWORK_CONFIG, "grpcServer is required: the agent's unix socket path or host:port")
    if not server.startswith("/"):
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CNIError(INVALID_NETWORK_CONFIG, f"grpcServer {server!r} is neither an absolute path nor host:port")
    return server


def timeout(conf: Mapping[str, Any]) -> float:
    """``grpcTimeout``: seconds the plugin waits for the agent's answer to one call."""
    value = conf.get("grpcTimeout", DEFAULT_TIMEOUT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise CNIError(INVALID_NETWORK_CONFIG, f"grpcTimeout {value!r} is not a number of seconds in (0, 3600]")
    return float(value)


def log_file(conf: Mapping[str, Any]) -> str:
    value = conf.get("logFile", "")
    if not isinstance(value, str):
        raise CNIError(INVALID_NETWORK_CONFIG, f"logFile {value!r} is not a path")
    return value


def valid_attachments(conf: Mapping[str, Any]) -> list[tuple[str, str]]:
    """GC's ``cni.dev/valid-attachments`` as (container ID, ifname); absent is an error, never "none valid"."""
    items = conf.get(VALID_ATTACHMENTS)
    if not isinstance(items, list):
        raise CNIError(INVALID_NETWORK_CONFIG, f"{VALID_ATTACHMENTS} is missing or not a list")
    out = []
    for i, item in enumerate(items):
        cid = item.get("containerID") if isinstance(item, dict) else None
        ifname = item.get("ifname") if isinstance(item, dict) else None
        if not isinstance(cid, str) or not cid or not isinstance(ifname, str) or not ifname:
            raise CNIError(
                INVALID_NETWORK_CONFIG, f"{VALID_ATTACHMENTS}[{i}] needs string containerID and ifname", repr(item)
            )
        out.append((cid, ifname))
    return out
