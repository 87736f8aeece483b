"""The agent's CNI socket: private, a stale one replaced, removed on stop, never someone else's file."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import grpc
import pytest

from contivctl.cni.generated.cni_pb2 import StatusReply, StatusRequest
from contivctl.cni.server import SERVICE, CNIServer, RemoteCNI, cni_args
from contivctl.errors import ContivError
from contivctl.events import Event


def service(ready: bool) -> RemoteCNI:
    event = asyncio.Event()
    if ready:
        event.set()

    async def nothing_to_submit(event: Event) -> None:
        raise AssertionError(f"no event expected, got {event}")

    return RemoteCNI(nothing_to_submit, event)


async def status_of(path: Path) -> tuple[int, str]:
    async with grpc.aio.insecure_channel(f"unix:{path}") as channel:
        status = channel.unary_unary(
            f"/{SERVICE}/Status",
            request_serializer=StatusRequest.SerializeToString,
            response_deserializer=StatusReply.FromString,
        )
        reply = await status(StatusRequest(version="1.1.0"), timeout=10)
    return reply.code, reply.message


async def test_socket_is_private_replaces_a_stale_one_and_goes_on_stop(tmp_path: Path) -> None:
    path = tmp_path / "run" / "cni.sock"
    path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # an agent that died: the file stays, nobody listens
    server = CNIServer(service(ready=False), path)
    await server.start()
    try:
        st = os.stat(path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert os.listdir(path.parent) == ["cni.sock"]  # the private directory it was bound in is gone
        assert await status_of(path) == (50, "the agent is starting: startup resync is not done")
    finally:
        await server.stop()
    assert not path.exists()


async def test_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "var" / "run" / "contiv" / "cni.sock"
    server = CNIServer(service(ready=True), path)
    await server.start()
    try:
        assert await status_of(path) == (0, "ready")
    finally:
        await server.stop()


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "cni.sock"
    path.write_text("not mine")
    with pytest.raises(ContivError, match="is not a socket"):
        await CNIServer(service(ready=True), path).start()
    assert path.read_text() == "not mine"


async def test_a_socket_someone_serves_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "cni.sock"
    first = CNIServer(service(ready=True), path)
    await first.start()
    try:
        with pytest.raises(ContivError, match="another process is serving CNI"):
            await CNIServer(service(ready=False), path).start()
        assert await status_of(path) == (0, "ready")
    finally:
        await first.stop()
    assert not path.exists()


async def test_stop_leaves_a_socket_that_replaced_ours(tmp_path: Path) -> None:
    path = tmp_path / "cni.sock"
    first = CNIServer(service(ready=True), path)
    await first.start()
    path.unlink()  # removed behind our back; a new agent binds the path
    second = CNIServer(service(ready=True), path)
    await second.start()
    try:
        await first.stop()
        assert await status_of(path) == (0, "ready")
    finally:
        await second.stop()
    assert not path.exists()


def test_cni_args_keep_only_key_value_pieces() -> None:
    text = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web-0;junk;a=b=c;K8S_POD_UID=u1"
    assert cni_args(text) == {
        "IgnoreUnknown": "1",
        "K8S_POD_NAMESPACE": "ns",
        "K8S_POD_NAME": "web-0",
        "K8S_POD_UID": "u1",
    }


async def test_an_add_carries_the_pods_labels_when_they_decide_its_wiring() -> None:
    from contivctl.cni.generated.cni_pb2 import CNIRequest
    from contivctl.cni.server import StatusError
    from contivctl.errors import PodWiringError
    from contivctl.events import AddPod
    from contivctl.model import PodRef

    ready = asyncio.Event()
    ready.set()
    seen: list[AddPod] = []
    asked: list[PodRef] = []

    async def submit(event: Event) -> None:
        assert isinstance(event, AddPod)
        seen.append(event)
        raise PodWiringError("stop here")

    async def labels(pod: PodRef) -> dict[str, str] | None:
        asked.append(pod)
        return {"ldpreload": "true"} if pod.name == "web" else None

    svc = RemoteCNI(submit, ready, labels=labels)
    for name in ("web", "db"):
        request = CNIRequest(
            container_id=f"c-{name}",
            interface_name="eth0",
            network_namespace="/var/run/netns/x",
            extra_arguments=f"K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};K8S_POD_UID=u",
        )
        with pytest.raises(StatusError):
            await svc.add(request)
    assert asked == [PodRef("default", "web"), PodRef("default", "db")]
    assert [e.labels for e in seen] == [{"ldpreload": "true"}, None]
    # without a lookup (no TCP stack, or no Kubernetes) an ADD carries none, and nothing is asked
    plain = RemoteCNI(submit, ready)
    with pytest.raises(StatusError):
        await plain.add(CNIRequest(container_id="c", interface_name="eth0", extra_arguments="K8S_POD_NAME=web"))
    assert seen[-1].labels is None and len(asked) == 2
