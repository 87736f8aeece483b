"""A PCI NIC goes back to the driver it had, on a sysfs tree of the test's making (no real device is touched)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contivctl.errors import STNError
from contivctl.stnd.pci import PciDevices, is_pci_address

ADDR = "0000:00:08.0"


def _sysfs(root: Path, bound_to: str | None) -> None:
    """devices/<addr>/driver → drivers/<bound_to>, as sysfs links them; bind/unbind files to write to."""
    for driver in ("ixgbe", "vfio-pci"):
        (root / "drivers" / driver).mkdir(parents=True)
        (root / "drivers" / driver / "bind").write_text("")
        (root / "drivers" / driver / "unbind").write_text("")
    device = root / "devices" / ADDR
    device.mkdir(parents=True)
    if bound_to:
        os.symlink(root / "drivers" / bound_to, device / "driver")
        os.symlink(device, root / "drivers" / bound_to / ADDR)


def test_bound_back_to_its_driver_from_vfio(tmp_path: Path) -> None:
    _sysfs(tmp_path, "vfio-pci")
    pci = PciDevices(tmp_path)
    assert pci.driver_of(ADDR) == "vfio-pci"
    assert pci.bind(ADDR, "ixgbe") is True
    assert (tmp_path / "drivers" / "vfio-pci" / "unbind").read_text() == ADDR
    assert (tmp_path / "drivers" / "ixgbe" / "bind").read_text() == ADDR


def test_unbound_device_is_only_bound(tmp_path: Path) -> None:
    _sysfs(tmp_path, None)
    pci = PciDevices(tmp_path)
    assert pci.driver_of(ADDR) == ""
    assert pci.bind(ADDR, "ixgbe") is True
    assert (tmp_path / "drivers" / "ixgbe" / "bind").read_text() == ADDR


def test_already_on_its_driver_nothing_is_written(tmp_path: Path) -> None:
    _sysfs(tmp_path, "ixgbe")
    assert PciDevices(tmp_path).bind(ADDR, "ixgbe") is False
    assert (tmp_path / "drivers" / "ixgbe" / "bind").read_text() == ""


def test_missing_driver_is_an_stn_error(tmp_path: Path) -> None:
    _sysfs(tmp_path, "vfio-pci")
    with pytest.raises(STNError, match="cannot give PCI device"):
        PciDevices(tmp_path).bind(ADDR, "no-such-driver")


def test_what_counts_as_a_pci_address() -> None:
    assert is_pci_address("0000:00:08.0") and is_pci_address("0000:af:00.1")
    assert not any(is_pci_address(t) for t in ("", "N/A", "virtio0", "usb-0000:00:14.0-1"))
