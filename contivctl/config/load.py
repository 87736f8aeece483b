"""Loading a config file: YAML → checked, normalised, derived :class:`Config`.

Both file forms of the original are read: the v2.0 ``contiv.yaml`` (Go field
names) and the later ``contiv.conf`` (JSON tags). Keys match
case-insensitively in both, as they did in the original. The form only
decides the defaults of the few keys whose default changed between the
original's versions, so that an unchanged v2.0 file behaves as it did.

A key written twice is a problem whichever way it is spelled: YAML itself
would silently keep the last one, so the file is composed into nodes first
and every mapping is checked before the values are built.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from contivctl.config.contivcidr import apply_contiv_cidr
from contivctl.config.model import Config, Dialect
from contivctl.config.schema import Loader
from contivctl.config.validate import advise, key_path, validate
from contivctl.errors import ConfigError, ConfigProblem

#: Defaults of the v2.0 Go code where the later versions changed them.
LEGACY_DEFAULTS: Mapping[str, Any] = {
    "use_tap_interfaces": False,
    "tcp_checksum_offload_disabled": False,
    "nat_external_traffic": False,
    "tcp_stack_disabled": False,
    "cleanup_idle_nat_sessions": False,
    # v2.0 read a node's NodeConfig resource whatever this key said (only its chart read the key)
    "crd_node_configuration_disabled": False,
}
#: Keys that exist only in the v2.0 form; any of them marks a v2.0 file.
_V2_ONLY_KEYS = {"podnetworkprefixlen", "vpphostnetworkprefixlen", "podifipcidr"}
DEFAULT_TCP_NAT_TIMEOUT_MIN = 180
DEFAULT_OTHER_NAT_TIMEOUT_MIN = 5


def detect_dialect(data: Mapping[str, Any]) -> Dialect:
    """v2.0 files spell the IPAM section ``IPAMConfig`` or set keys only v2.0 had."""
    if "IPAMConfig" in data or "NodeConfig" in data:
        return "contiv.yaml"
    for key, value in data.items():
        if (
            isinstance(key, str)
            and key.lower() == "ipamconfig"
            and isinstance(value, Mapping)
            and any(isinstance(k, str) and k.lower() in _V2_ONLY_KEYS and v not in (None, "") for k, v in value.items())
        ):
            return "contiv.yaml"
    return "contiv.conf"


def parse_config(data: Any, dialect: Dialect | None = None, *, node: str | None = None) -> Config:
    """Build the effective Config from parsed YAML; raise ConfigError listing every problem.

    ``node`` is the name of the node the config is loaded for (the agent's,
    or ``--node``; "" for a node without an entry): what only that node
    needs, such as a way to get its node IP, is then judged for it.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([ConfigProblem("", f"the config must be a mapping of keys, not {type(data).__name__}")])
    form = dialect or detect_dialect(data)
    loader = Loader(form)
    cfg = attrs.evolve(loader.load(Config, data), dialect=form)
    problems = list(loader.problems)
    if form == "contiv.yaml":
        legacy = {k: v for k, v in LEGACY_DEFAULTS.items() if k not in loader.given}
        cfg = attrs.evolve(cfg, **legacy)
    cfg, more = _normalise(cfg, loader.given)
    problems += more
    try:
        cfg = attrs.evolve(cfg, ipam=apply_contiv_cidr(cfg.ipam))
    except ValueError as exc:
        problems.append(ConfigProblem(key_path(form, Config, "ipam", "contiv_cidr"), str(exc)))
    problems += validate(cfg, loader.failed, loader.spelled, node=node)
    if problems:
        raise ConfigError(problems)
    return attrs.evolve(cfg, warnings=tuple(advise(cfg, loader.failed, loader.spelled, node=node)))


def _normalise(cfg: Config, given: set[str]) -> tuple[Config, list[ConfigProblem]]:
    """Apply the original's "zero means default" rules and reconcile aliases."""
    problems = []
    changes: dict[str, Any] = {}
    if cfg.tap_interface_version == 0:
        changes["tap_interface_version"] = 2
    if cfg.pod_vrf_id == 0:
        changes["pod_vrf_id"] = 1
    if cfg.service_local_endpoint_weight == 0:
        changes["service_local_endpoint_weight"] = 1
    if not cfg.tcp_nat_session_timeout:
        changes["tcp_nat_session_timeout"] = type(cfg.tcp_nat_session_timeout)(minutes=DEFAULT_TCP_NAT_TIMEOUT_MIN)
    if not cfg.other_nat_session_timeout:
        changes["other_nat_session_timeout"] = type(cfg.other_nat_session_timeout)(
            minutes=DEFAULT_OTHER_NAT_TIMEOUT_MIN
        )
    if not cfg.stn_socket_file:
        changes["stn_socket_file"] = attrs.fields(Config).stn_socket_file.default
    transport = cfg.node_to_node_transport
    if transport in ("vxlan", "nooverlay"):
        l2 = transport == "nooverlay"
        if "use_l2_interconnect" in given and cfg.use_l2_interconnect != l2:
            problems.append(
                ConfigProblem(
                    key_path(cfg.dialect, Config, "node_to_node_transport"),
                    f"{transport!r} contradicts {key_path(cfg.dialect, Config, 'use_l2_interconnect')}: "
                    f"{str(cfg.use_l2_interconnect).lower()}",
                )
            )
        changes["use_l2_interconnect"] = l2
    elif not transport:
        changes["node_to_node_transport"] = "nooverlay" if cfg.use_l2_interconnect else "vxlan"
    return attrs.evolve(cfg, **changes), problems


def load_config(path: str | Path, *, node: str | None = None) -> Config:
    """Read and check a config file; every failure is a ConfigError naming the file.

    ``node`` as for :func:`parse_config`.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(p), f"cannot read: {exc.strerror or exc}")]) from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        # before construction: building the values flattens YAML merge keys into the nodes
        twice = [] if root is None else list(duplicate_keys(root))
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(str(p), f"not valid YAML{where}: {reason}")]) from None
    finally:
        loader.dispose()
    try:
        cfg = parse_config(data, node=node)
    except ConfigError as exc:
        raise ConfigError([*twice, *exc.problems]) from None
    if twice:
        raise ConfigError(twice)
    return cfg


def duplicate_keys(node: yaml.Node, path: str = "") -> Iterator[ConfigProblem]:
    """Keys written twice with the same spelling, anywhere in the document.

    Different spellings of one key (``MTUSize`` and ``mtusize``) are the
    loader's to find: only it knows they are the same key.
    """
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            where = f"{path}.{key}" if path else key
            if key in seen:
                yield ConfigProblem(where, f"given twice (at lines {seen[key]} and {line}); write it once")
            else:
                seen[key] = line
            yield from duplicate_keys(value_node, where)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from duplicate_keys(item, f"{path}[{i}]")
