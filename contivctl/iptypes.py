"""The IP value types every layer shares.

One definition, so that a value made by the config loader, the address plan,
a renderer or a driver is the same type everywhere (``ipaddress`` objects,
never strings that each layer would parse again).
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["IPAddress", "IPInterface", "IPNetwork"]
