"""``HTTPClient``: the Client interface over HTTPS against kubetui's API server."""

from __future__ import annotations

import asyncio

import pytest

from kubetui.api import errors
from kubetui.client.base import JSON_PATCH, STRATEGIC_MERGE_PATCH
from kubetui.client.http import HTTPClient
from tests.apiserver.test_http_support import start_cluster


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}


@pytest.fixture
async def env(tmp_path):
    c = await start_cluster(tmp_path, history_events=5, history_seconds=0)
    client = HTTPClient.from_kubeconfig(c.kubeconfig)
    yield c, client
    await client.close()
    await c.stop()


async def test_verbs_round_trip(env):
    c, client = env
    created = await client.create("pods", pod("a"))
    assert created["metadata"]["uid"] and created["kind"] == "Pod"
    got = await client.get("po", "a", "default")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    lst = await client.list("pods", "default")
    assert lst["kind"] == "PodList" and [p["metadata"]["name"] for p in lst["items"]] == ["a"]
    got["metadata"]["labels"] = {"x": "1"}
    updated = await client.update("pods", got)
    assert updated["metadata"]["labels"] == {"x": "1"}
    with pytest.raises(errors.Conflict):
        await client.update("pods", got)  # stale resourceVersion
    patched = await client.patch("pods", "a", {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}},
                                 "default", patch_type=STRATEGIC_MERGE_PATCH)
    assert patched["spec"]["containers"][0]["image"] == "nginx:2"
    patched = await client.patch("pods", "a", [{"op": "add", "path": "/metadata/labels/y", "value": "2"}],
                                 "default", patch_type=JSON_PATCH)
    assert patched["metadata"]["labels"] == {"x": "1", "y": "2"}
    assert (await client.create("pods", pod("dry"), dry_run=True))["metadata"]["name"] == "dry"
    with pytest.raises(errors.NotFound):
        await client.get("pods", "dry", "default")
    with pytest.raises(errors.AlreadyExists) as exc:
        await client.create("pods", pod("a"))
    assert exc.value.message == 'pods "a" already exists' and exc.value.code == 409
    await client.delete("pods", "a", "default")
    with pytest.raises(errors.NotFound) as exc:
        await client.get("pods", "a", "default")
    assert exc.value.name == "a"
    with pytest.raises(errors.Invalid) as exc:
        await client.create("pods", {**pod("x"), "metadata": {"name": "Bad_Name"}})
    assert any(cause.get("field") == "metadata.name" for cause in exc.value.causes)


async def test_watch_events_and_gone(env):
    c, client = env
    lst = await client.list("pods", "default")
    rv = lst["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []

    async def consume():
        async for ev in client.watch("pods", "default", resource_version=rv):
            seen.append((ev.type, ev.object["metadata"]["name"]))
            if len(seen) == 2:
                return

    task = asyncio.create_task(consume())
    await client.create("pods", pod("w"))
    await client.delete("pods", "w", "default")
    await asyncio.wait_for(task, 10)
    assert seen == [("ADDED", "w"), ("DELETED", "w")]

    for i in range(10):  # push rv out of the (5-event) history
        await client.create("pods", pod(f"churn-{i}"))
    with pytest.raises(errors.Gone):
        async for _ in client.watch("pods", "default", resource_version=rv):
            pass


async def test_bad_token_is_unauthorized(env):
    c, _ = env
    from kubetui.client.kubeconfig import load_kubeconfig
    cfg = load_kubeconfig(c.kubeconfig)
    bad = HTTPClient(cfg.server, token="nope", ssl_context=cfg.ssl_context())
    try:
        with pytest.raises(errors.Unauthorized):
            await bad.list("pods")
    finally:
        await bad.close()
