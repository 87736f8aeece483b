"""The STN daemon, ``contivctl stn``: it steals the node's NIC for VPP and gives it back.

- ``nic.py``: recording, flushing and restoring one link (netlink, on the
  Linux driver's worker thread);
- ``pci.py``: binding a PCI NIC to its kernel driver again;
- ``daemon.py``: the gRPC service on the unix socket, the record of what is
  stolen (kept in a file across restarts of the daemon), the watch of the
  host interconnect that gives everything back when VPP goes away, and the
  signals;
- ``command.py``: the command line (the daemon, and steal / release / info
  as its client).
"""
