"""The controller: events in, view updated, items rendered, reconciler called."""

from contivctl.controller.controller import AddResult, Controller, PodWiringError
from contivctl.controller.events import AddPod, DeletePod, Event, Resync

__all__ = ["AddPod", "AddResult", "Controller", "DeletePod", "Event", "PodWiringError", "Resync"]
