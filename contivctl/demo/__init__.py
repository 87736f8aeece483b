"""``contivctl demo``: a whole cluster on one machine, with real packets between pods (docs/demo.md).

One module per job: the plan (names and addresses), the state file (what
exists, so anything can be undone), shell commands, the namespaces, the
agent and etcd processes, pods through the CNI executable, the ping
matrix, the progress display, and the cluster that strings them together.
"""
