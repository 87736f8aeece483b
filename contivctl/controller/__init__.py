"""The controller: events in, view updated, items rendered, reconciler called."""

from contivctl.controller.controller import AddResult, CheckResult, Controller, GCResult, PodWiringError
from contivctl.controller.events import AddPod, CheckPod, DeletePod, Event, GarbageCollect, Resync

__all__ = [
    "AddPod",
    "AddResult",
    "CheckPod",
    "CheckResult",
    "Controller",
    "DeletePod",
    "Event",
    "GCResult",
    "GarbageCollect",
    "PodWiringError",
    "Resync",
]
