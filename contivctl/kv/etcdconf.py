"""How to reach etcd: endpoints, timeouts and TLS, from flags or the original's ``etcd.conf``.

The original deployment mounts ``etcd.conf`` (cn-infra's etcd client config)
into every agent; an unchanged file must keep working, so its keys are read
as they were, durations included (a bare number is nanoseconds, as Go's
``time.Duration`` marshals). Keys of that file this agent has no use for are
accepted and ignored; unknown keys are errors, because a misspelt
``ca-file`` would otherwise silently turn TLS off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import yaml

from contivctl.durations import parse_duration
from contivctl.errors import ConfigError, ConfigProblem

DEFAULT_DIAL_TIMEOUT = 5.0
DEFAULT_OP_TIMEOUT = 5.0

#: cn-infra keys that have no meaning for this agent (compaction, sessions, reconnect
#: policy are its own business here); accepted so original files load unchanged.
_IGNORED_KEYS = frozenset(
    {
        "auto-compact",
        "resync-after-reconnect",
        "allow-delayed-start",
        "reconnect-interval",
        "session-ttl",
        "expand-env-variables",
    }
)
_KNOWN_KEYS = frozenset(
    {
        "endpoints",
        "dial-timeout",
        "operation-timeout",
        "insecure-transport",
        "insecure-skip-tls-verify",
        "ca-file",
        "cert-file",
        "key-file",
    }
)


@attrs.frozen
class TLSFiles:
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@attrs.frozen
class EtcdConfig:
    """``endpoints`` are ``host:port`` (a scheme is stripped and only decides TLS)."""

    endpoints: tuple[str, ...]
    dial_timeout: float = DEFAULT_DIAL_TIMEOUT
    op_timeout: float = DEFAULT_OP_TIMEOUT
    #: None: plaintext. Otherwise TLS, with the system roots when no CA file is given.
    tls: TLSFiles | None = None


def split_endpoints(text: str) -> tuple[str, ...]:
    """``--etcd`` takes endpoints separated by commas, as etcdctl does."""
    return tuple(e.strip() for e in text.split(",") if e.strip())


def _strip_scheme(endpoint: str) -> tuple[str, bool]:
    for scheme, tls in (("https://", True), ("http://", False)):
        if endpoint.startswith(scheme):
            return endpoint[len(scheme) :].rstrip("/"), tls
    return endpoint, False


def _check_endpoint(endpoint: str, where: str, problems: list[ConfigProblem]) -> None:
    host, sep, port = endpoint.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(ConfigProblem(where, f"{endpoint!r} is not host:port"))


def _duration_seconds(value: Any, where: str, problems: list[ConfigProblem]) -> float | None:
    if isinstance(value, bool):
        problems.append(ConfigProblem(where, f"{value!r} is not a duration"))
        return None
    if isinstance(value, int | float):
        seconds = float(value) / 1e9  # Go's time.Duration: nanoseconds
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value).total_seconds()
        except ValueError as exc:
            problems.append(ConfigProblem(where, str(exc)))
            return None
    else:
        problems.append(ConfigProblem(where, f"{value!r} is not a duration"))
        return None
    if seconds <= 0:
        problems.append(ConfigProblem(where, "must be positive"))
        return None
    return seconds


def etcd_config(
    endpoints: Sequence[str],
    *,
    dial_timeout: float = DEFAULT_DIAL_TIMEOUT,
    op_timeout: float = DEFAULT_OP_TIMEOUT,
    insecure_transport: bool | None = None,
    ca_file: str | Path | None = None,
    cert_file: str | Path | None = None,
    key_file: str | Path | None = None,
    where: str = "--etcd",
) -> EtcdConfig:
    """Check and normalise endpoints and TLS settings; every problem is reported at once.

    ``insecure_transport=None`` (the key absent) means TLS exactly when a
    certificate file or an ``https://`` endpoint asks for it, so a file that
    only lists plaintext endpoints works without naming the transport.
    """
    problems: list[ConfigProblem] = []
    clean: list[str] = []
    any_https = False
    if not endpoints:
        problems.append(ConfigProblem(where, "no etcd endpoint given"))
    for i, raw in enumerate(endpoints):
        endpoint, https = _strip_scheme(str(raw).strip())
        any_https |= https
        _check_endpoint(endpoint, f"{where}[{i}]" if where.endswith("endpoints") else where, problems)
        clean.append(endpoint)
    files = {"ca-file": ca_file, "cert-file": cert_file, "key-file": key_file}
    for key, value in files.items():
        if value and not Path(value).is_file():
            problems.append(ConfigProblem(key, f"{str(value)!r} is not a readable file"))
    if bool(cert_file) != bool(key_file):
        problems.append(ConfigProblem("cert-file" if key_file else "key-file", "cert-file and key-file go together"))
    wants_tls = any_https or any(files.values())
    if insecure_transport is None:
        insecure_transport = not wants_tls
    if insecure_transport and any(files.values()):
        problems.append(ConfigProblem("insecure-transport", "is true but TLS files are given; set it to false"))
    if problems:
        raise ConfigError(problems)
    tls = None
    if not insecure_transport:
        tls = TLSFiles(
            ca_file=Path(ca_file) if ca_file else None,
            cert_file=Path(cert_file) if cert_file else None,
            key_file=Path(key_file) if key_file else None,
        )
    return EtcdConfig(endpoints=tuple(clean), dial_timeout=dial_timeout, op_timeout=op_timeout, tls=tls)


def parse_etcd_conf(data: Any, source: str = "etcd.conf") -> EtcdConfig:
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigProblem("", f"{source}: expected a mapping of keys, got {type(data).__name__}")])
    problems: list[ConfigProblem] = []
    for key in data:
        if key not in _KNOWN_KEYS and key not in _IGNORED_KEYS:
            known = ", ".join(sorted(_KNOWN_KEYS))
            problems.append(ConfigProblem(str(key), f"unknown key in {source} (known: {known})"))
    endpoints = data.get("endpoints")
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        problems.append(ConfigProblem("endpoints", "must be a list of host:port strings"))
        endpoints = []
    dial = DEFAULT_DIAL_TIMEOUT
    op = DEFAULT_OP_TIMEOUT
    if "dial-timeout" in data:
        dial = _duration_seconds(data["dial-timeout"], "dial-timeout", problems) or dial
    if "operation-timeout" in data:
        op = _duration_seconds(data["operation-timeout"], "operation-timeout", problems) or op
    insecure = data.get("insecure-transport")
    if insecure is not None and not isinstance(insecure, bool):
        problems.append(ConfigProblem("insecure-transport", f"{insecure!r} is not true or false"))
        insecure = None
    if data.get("insecure-skip-tls-verify"):
        problems.append(
            ConfigProblem("insecure-skip-tls-verify", "is not supported: give the server's CA in ca-file instead")
        )
    paths: dict[str, str | None] = {}
    for key in ("ca-file", "cert-file", "key-file"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(ConfigProblem(key, f"{value!r} is not a file path"))
            value = None
        paths[key] = value or None
    try:
        cfg = etcd_config(
            endpoints,
            dial_timeout=dial,
            op_timeout=op,
            insecure_transport=insecure,
            ca_file=paths["ca-file"],
            cert_file=paths["cert-file"],
            key_file=paths["key-file"],
            where="endpoints",
        )
    except ConfigError as exc:
        problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def load_etcd_conf(path: str | Path) -> EtcdConfig:
    """Read the original's ``etcd.conf`` (YAML); errors name the file and the key."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError([ConfigProblem("--etcd-config", f"cannot read {p}: {exc.strerror}")]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigProblem(str(p), f"not valid YAML: {exc}")]) from exc
    try:
        return parse_etcd_conf(data, source=p.name)
    except ConfigError as exc:
        where = [ConfigProblem(f"{p}: {q.path}" if q.path else str(p), q.message) for q in exc.problems]
        raise ConfigError(where) from exc
