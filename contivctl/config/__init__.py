"""Agent configuration: attrs values, loaded from the original's YAML forms."""

from contivctl.config.load import load_config, parse_config
from contivctl.config.model import Config, InterfaceConfig, IPAMConfig, NodeConfig
from contivctl.config.node import EffectiveConfig, effective_config, node_ip_exclusions

__all__ = [
    "Config",
    "EffectiveConfig",
    "IPAMConfig",
    "InterfaceConfig",
    "NodeConfig",
    "effective_config",
    "load_config",
    "node_ip_exclusions",
    "parse_config",
]
