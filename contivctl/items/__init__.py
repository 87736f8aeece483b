"""Items: frozen values of dataplane objects, with their keys and dependencies.

They are the vocabulary renderers and drivers share: a renderer returns
items (what should exist), a driver's descriptor knows how to make each
kind. Items import nothing above them (only the reconciler's ``Dependency``),
so a renderer builds them without knowing any driver.

- ``vpp``: VPP objects (interfaces, routes, NAT, ...), keys ``vpp/...``;
- ``linux``: links, addresses, routes and neighbours in any namespace, ``linux/...``;
- ``kernel``: what the kernel dataplane adds (sysctls, VXLAN, FDB, nftables).
"""

from __future__ import annotations

from contivctl.items.kernel import KernelItem
from contivctl.items.linux import LinuxItem
from contivctl.items.vpp import VppItem

#: any item a renderer can return
Item = VppItem | LinuxItem | KernelItem
#: desired items by key: what a renderer returns and the reconciler takes
Items = dict[str, Item]
#: changes to desired items: a new value, or None for a key that goes
Changes = dict[str, Item | None]


def keyed(*items: Item) -> Items:
    """``{item.key: item}``: the shape the reconciler takes."""
    return {i.key: i for i in items}


__all__ = ["Changes", "Item", "Items", "keyed"]
