"""Assembly: which parts the agent is built of, in which order they start.

- ``options``: the agent's options and their defaults (the one place);
- ``parts``: what differs between dataplane flavours, as one interface;
  ``vpp`` and ``kernel`` implement it;
- ``node``: one node's reconciler, views and controller, built alike for
  the agent and the tests;
- ``cluster``: this node among the others (nodes file, etcd);
- ``agent``: the ``contivctl agent`` process: start, run, stop.

No business rules live here: only what to build and when. Import from the
modules themselves: the command line reads ``options`` without loading the
rest of the agent.
"""
