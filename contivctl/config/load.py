"""Loading a config file: YAML → checked, normalised, derived :class:`Config`.

Both file forms of the original are read: the v2.0 ``contiv.yaml`` (Go field
names) and the later ``contiv.conf`` (JSON tags). Keys match
case-insensitively in both, as they did in the original. The form only
decides the defaults of the few keys whose default changed between the
original's versions, so that an unchanged v2.0 file behaves as it did.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from contivctl.config.contivcidr import apply_contiv_cidr
from contivctl.config.model import Config, Dialect
from contivctl.config.schema import Loader
from contivctl.config.validate import key_path, validate
from contivctl.errors import ConfigError, ConfigProblem

#: Defaults of the v2.0 Go code where the later versions changed them.
LEGACY_DEFAULTS: Mapping[str, Any] = {
    "use_tap_interfaces": False,
    "tcp_checksum_offload_disabled": False,
    "nat_external_traffic": False,
    "tcp_stack_disabled": False,
    "cleanup_idle_nat_sessions": False,
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


def parse_config(data: Any, dialect: Dialect | None = None) -> Config:
    """Build the effective Config from parsed YAML; raise ConfigError listing every problem."""
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
    problems += validate(cfg, loader.failed, loader.spelled)
    if problems:
        raise ConfigError(problems)
    return cfg


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


def load_config(path: str | Path) -> Config:
    """Read and check a config file; every failure is a ConfigError naming the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(p), f"cannot read: {exc.strerror or exc}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigProblem(str(p), f"not valid YAML{where}: {reason}")]) from None
    return parse_config(data)
