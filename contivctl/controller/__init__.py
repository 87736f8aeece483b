"""The controller: events in, views updated, items rendered, reconciler called.

``controller.py`` is the task and its handlers (one per event type);
``pods.py``, ``nodes.py`` and ``services.py`` are the views it changes;
``podstore.py`` persists the pods. The events themselves live in ``contivctl/events.py``.
"""

from contivctl.controller.controller import Controller, NetnsCheck, PodHook
from contivctl.controller.nodes import NodeView
from contivctl.controller.pods import PodView
from contivctl.controller.services import ServiceView

__all__ = ["Controller", "NetnsCheck", "NodeView", "PodHook", "PodView", "ServiceView"]
