"""Giving a PCI NIC back to its kernel driver once VPP lets go of it.

VPP (DPDK) drives a NIC by binding its PCI device to a user-space I/O
driver (vfio-pci, uio_pci_generic); the Linux interface is then gone. To
give the NIC back, the device is unbound from whatever holds it and bound
to the driver it had when it was stolen, through sysfs, as the original
daemon did. ``root`` is sysfs' PCI bus directory, so that the rules can be
exercised on a directory tree of a test's making instead of real devices.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from contivctl.errors import STNError

log = logging.getLogger(__name__)

SYSFS_PCI = Path("/sys/bus/pci")
_PCI_ADDRESS = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")


def is_pci_address(text: str) -> bool:
    """Whether an ethtool bus address names a PCI device (a veth has "", a bridge "N/A")."""
    return bool(_PCI_ADDRESS.match(text))


class PciDevices:
    def __init__(self, root: Path = SYSFS_PCI) -> None:
        self.root = root

    def driver_of(self, address: str) -> str:
        """The driver bound to the device now ("" when none is)."""
        link = self.root / "devices" / address / "driver"
        try:
            return Path(os.readlink(link)).name
        except OSError:
            return ""

    def bind(self, address: str, driver: str) -> bool:
        """Bind the device to ``driver`` unless it is already; whether anything had to be done."""
        if (self.root / "drivers" / driver / address).exists():
            return False
        current = self.root / "devices" / address / "driver" / "unbind"
        if current.exists():
            log.info("unbinding %s from %s", address, self.driver_of(address) or "its driver")
            self._write(current, address)
        log.info("binding %s to %s", address, driver)
        self._write(self.root / "drivers" / driver / "bind", address)
        return True

    @staticmethod
    def _write(path: Path, address: str) -> None:
        try:
            with open(path, "w") as f:
                f.write(address)
        except OSError as exc:
            raise STNError(f"cannot give PCI device {address} back ({path}): {exc.strerror or exc}") from None
