"""Renderers: pure functions from the agent's view to the desired dataplane items.

Shared by both dataplanes: ``inputs`` (what everything is rendered from),
``naming`` (names and MACs), ``remote`` (the other nodes' addresses),
``pod_side`` (the pod's own half of its wiring) and ``renderers`` (one
dataplane's renderers as one value). One folder per dataplane: ``vpp/`` and
``kernel/``. Nothing here does I/O or imports a driver.
"""
