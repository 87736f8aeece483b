"""What a pod's CNI request must hold before the controller acts on it.

``contiv-cni`` checks its input against the CNI spec, but anything that
can open the agent's socket can send anything: a container ID of a
megabyte, an interface name Linux refuses, a namespace path with a NUL.
Acted on, such a request fails deep in netlink or the store with an error
that says nothing to its sender, or is written to the store and the logs
as it came. Checked here, it is refused at once, naming each field and
what is wrong, and an error message never repeats more than the start of
a value.

The rules are the CNI spec's (and the plugin's): a container ID is
alphanumeric with ``_ . -`` after the first character; an interface name
is what Linux accepts (at most 15 bytes, not ``.`` or ``..``, no ``/``,
``:``, white space or NUL); the namespace is an absolute path. Lengths have
bounds no runtime comes near.
"""

from __future__ import annotations

from contivctl.errors import InvalidRequest
from contivctl.events import AddPod

#: a runtime's container IDs are 64 hex digits; this is far beyond any
MAX_CONTAINER_ID = 1024
#: PATH_MAX
MAX_NETNS = 4096
#: a Kubernetes name (DNS subdomain) is at most 253 characters; a UID 36
MAX_POD_FIELD = 253
IFNAMSIZ = 15
#: how much of a bad value an error message repeats
SHOWN = 40


def shown(value: str) -> str:
    """``value`` as an error message may repeat it: its start, and its length when it is long."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}… ({len(value)} characters)"


def container_id_problem(cid: str) -> str | None:
    if not cid:
        return "is empty"
    if len(cid) > MAX_CONTAINER_ID:
        return f"is longer than {MAX_CONTAINER_ID} characters"
    if not (cid[0].isascii() and cid[0].isalnum()):
        return "must start with a letter or a digit"
    if not all(c.isascii() and (c.isalnum() or c in "_.-") for c in cid):
        return "may hold only letters, digits, '_', '.' and '-'"
    return None


def ifname_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if len(name.encode()) > IFNAMSIZ:
        return f"is longer than {IFNAMSIZ} bytes"
    if name in (".", ".."):
        return "is not a usable interface name"
    if any(c in "/:\0" or c.isspace() for c in name):
        return "contains '/', ':', white space or NUL"
    return None


def netns_problem(path: str) -> str | None:
    if not path:
        return "is empty"
    if len(path) > MAX_NETNS:
        return f"is longer than {MAX_NETNS} characters"
    if "\0" in path:
        return "contains NUL"
    if not path.startswith("/"):
        return "is not an absolute path"
    return None


def check_add(ev: AddPod) -> None:
    """Raise InvalidRequest naming every field of ``ev`` that cannot be acted on."""
    problems = []
    for field, value, problem in (
        ("container ID", ev.container_id, container_id_problem(ev.container_id)),
        ("interface name", ev.ifname, ifname_problem(ev.ifname)),
        ("network namespace", ev.netns, netns_problem(ev.netns)),
    ):
        if problem is not None:
            problems.append(f"{field} {shown(value)} {problem}")
    pod_fields = (("K8S_POD_NAMESPACE", ev.pod.namespace), ("K8S_POD_NAME", ev.pod.name), ("K8S_POD_UID", ev.uid))
    for field, value in pod_fields:
        if len(value) > MAX_POD_FIELD:
            problems.append(f"{field} {shown(value)} is longer than {MAX_POD_FIELD} characters")
        elif "\0" in value:
            problems.append(f"{field} {shown(value)} contains NUL")
    if problems:
        raise InvalidRequest("; ".join(problems))


def check_known(container_id: str, ifname: str) -> None:
    """For a CHECK of an attachment the agent does not have: is the request itself malformed?"""
    problems = [
        f"{field} {shown(value)} {problem}"
        for field, value, problem in (
            ("container ID", container_id, container_id_problem(container_id)),
            ("interface name", ifname, ifname_problem(ifname)),
        )
        if problem is not None
    ]
    if problems:
        raise InvalidRequest("; ".join(problems))
