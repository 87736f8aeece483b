"""What counts as a served connection in ``contivctl demo --service`` (pure)."""

from __future__ import annotations

from contivctl.demo import service as svc
from contivctl.demo.matrix import Endpoint


def test_unserved_or_served_by_the_removed_endpoint_fails() -> None:
    conns = [
        svc.Connection("pod1-1", "ClusterIP", "web2"),
        svc.Connection("pod1-1", "node1 NodePort", "error:ECONNREFUSED"),
        svc.Connection("node1", "ClusterIP", "web1"),
    ]
    assert svc.failures(conns) == [conns[1]]
    assert svc.failures(conns, removed="web1") == [conns[1], conns[2]]
    data = svc.as_json(conns, removed="web1")
    assert data["ok"] is False
    assert data["connections"][1] == {
        "from": "pod1-1",
        "to": "node1 NodePort",
        "ok": False,
        "servedBy": None,
        "error": "ECONNREFUSED",
    }
    assert data["connections"][2]["ok"] is False


def test_the_table_names_who_served() -> None:
    sources = [Endpoint("pod1-1", "pod", "ns", "10.90.1.2")]
    to = svc.targets([("node1", "10.88.0.1")])
    conns = [svc.Connection("pod1-1", "ClusterIP", "web2"), svc.Connection("pod1-1", "ClusterIP", "web1")]
    text = svc.as_table(conns, sources, to, "title")
    assert "web1,web2" in text and text.endswith("2/2 connections served")
