"""The demo's state file: everything it created, written *before* each thing is created.

``contivctl demo down`` (and the demo's own teardown) undo exactly what is
listed here, so a demo killed at any point — between two namespaces, with
an agent half started — can still be cleaned. Writes replace the file whole
(write, then rename): a reader never sees half a state.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import attrs

DEFAULT_DIR = Path("/run/contivctl-demo")
STATE_FILE = "state.json"


@attrs.define
class ProcessRecord:
    """A process the demo started: ``marker`` must be in its command line before it is signalled."""

    role: str  # "agent node1", "etcd"
    pid: int
    marker: str


@attrs.define
class PodRecord:
    name: str
    node: str
    netns: str
    container_id: str
    cni_socket: str
    added: bool = False


@attrs.define
class DemoState:
    tag: str
    #: scratch directory: config, nodes file, stores, sockets, logs
    run_dir: str
    #: the one made first goes last
    namespaces: list[str] = attrs.field(factory=list)
    processes: list[ProcessRecord] = attrs.field(factory=list)
    pods: list[PodRecord] = attrs.field(factory=list)
    #: netconf name and the plugin command line used for ADD, so DEL is the same
    cni_command: list[str] = attrs.field(factory=list)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoState:
        return cls(
            tag=data["tag"],
            run_dir=data["run_dir"],
            namespaces=list(data.get("namespaces", [])),
            processes=[ProcessRecord(**p) for p in data.get("processes", [])],
            pods=[PodRecord(**p) for p in data.get("pods", [])],
            cni_command=list(data.get("cni_command", [])),
        )


class StateFile:
    def __init__(self, directory: Path = DEFAULT_DIR) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> DemoState:
        return DemoState.from_json(json.loads(self.path.read_text()))

    def save(self, state: DemoState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=1))
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty, or gone: what else is there is not ours
            self.directory.rmdir()
