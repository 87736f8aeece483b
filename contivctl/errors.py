"""The errors contivctl raises, in one tree.

Every error a user can meet derives from :class:`ContivError`, so the CLI can
catch that one type, print the message and exit with a status code instead of
showing a traceback::

    ContivError
    ├── ConfigError          the configuration is invalid (all problems at once)
    ├── IPAMError            an address cannot be computed or handed out
    │   ├── NodeIDOutOfRange the node ID does not fit the configured subnets
    │   └── PoolExhausted    every pod address of this node is in use
    ├── StoreError           the local store or etcd failed an operation
    └── LinuxError           a netlink operation failed
        └── NetnsNotFound    a network namespace path does not exist

Later layers (CNI, dataplane, stores) add their branches here so that the
tree stays the single place to read what can go wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs


@attrs.frozen
class ConfigProblem:
    """One thing wrong with a configuration, addressed by its key path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ContivError(Exception):
    """Base of every error contivctl reports to a user."""


class ConfigError(ContivError):
    """A configuration could not be accepted.

    It carries every problem found, not just the first, so that a user fixes
    a file in one round instead of one error per run.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class IPAMError(ContivError):
    """An address could not be computed or allocated."""


class NodeIDOutOfRange(IPAMError):
    """The node ID has no subnet of its own under the configured CIDRs."""


class PoolExhausted(IPAMError):
    """No pod address is free on this node."""


class StoreError(ContivError):
    """A store operation failed; the message names the store and the cause."""


class LinuxError(ContivError):
    """A netlink operation failed; the message names the namespace and the object."""


class NetnsNotFound(LinuxError):
    """The network namespace is gone (or never was); it is never created in its place."""
