"""Sysctls of a namespace, written through ``/proc/sys`` from inside it.

``/proc/sys/net`` shows the network namespace of the thread that opens it,
so the worker thread that has entered the namespace reads and writes it
there. A sysctl is a setting, not an object: there is always a value, so
every watched name is reported by ``retrieve`` and removing the item leaves
the value as it is — forwarding may be what something else on the host
relies on too, and the agent cannot know what it was before it started.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from contivctl.dataplane.linux.netns import run_in_netns
from contivctl.errors import LinuxError, NetnsNotFound
from contivctl.items.kernel import Sysctl
from contivctl.items.linux import ns_label
from contivctl.reconcile.descriptor import Context, Descriptor
from contivctl.reconcile.item import Metadata, Retrieved


def _path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def read_sysctl(name: str) -> str:
    with open(_path(name)) as f:
        return f.read().strip()


def _write(name: str, value: str) -> None:
    with open(_path(name), "w") as f:
        f.write(value)


class SysctlDescriptor(Descriptor[Sysctl]):
    prefix = "linux/sysctl/"

    def __init__(self, netns: str, names: Iterable[str]) -> None:
        #: the namespace whose sysctls the agent sets, and which ones it watches there
        self.netns = netns
        self.names = tuple(names)

    async def create(self, ctx: Context, key: str, value: Sysctl) -> Metadata:
        await self._set(value)
        return None

    async def update(self, ctx: Context, key: str, old: Sysctl, new: Sysctl, metadata: Metadata) -> Metadata:
        await self._set(new)
        return None

    def needs_recreate(self, old: Sysctl, new: Sysctl) -> bool:
        return (old.netns, old.name) != (new.netns, new.name)

    async def _set(self, value: Sysctl) -> None:
        try:
            await run_in_netns(value.netns, lambda: _write(value.name, value.value))
        except OSError as exc:
            raise LinuxError(f"set {value.name}={value.value} in {ns_label(value.netns)}: {exc.strerror}") from None

    async def delete(self, ctx: Context, key: str, value: Sysctl, metadata: Metadata) -> None:
        return None  # see the module docstring: the value stays

    async def retrieve(self, ctx: Context, expected: Mapping[str, Sysctl]) -> Iterable[Retrieved]:
        found = []
        for name in self.names:
            try:
                current = await run_in_netns(self.netns, functools.partial(read_sysctl, name))
            except NetnsNotFound:
                return []
            except OSError as exc:
                raise LinuxError(f"read {name} in {ns_label(self.netns)}: {exc.strerror}") from None
            value = Sysctl(netns=self.netns, name=name, value=current)
            found.append(Retrieved(value.key, value, owned=True))
        return found

    def owns(self, key: str, value: Sysctl) -> bool:
        return True
