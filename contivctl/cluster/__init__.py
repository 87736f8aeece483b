"""This node as a member of a cluster: its ID, its published record, the other nodes.

The cluster store is etcd (:mod:`contivctl.kv.etcd`); the key layout and the
record format are the original Contiv-VPP's (:mod:`.record`), so a cluster's
existing etcd data keeps its meaning. See docs/cluster.md.

Import from the modules themselves: the nodes file (``static``) must not
load etcd's client library, which the others need.
"""
