"""``kubetui explain pod``: the parser, and reading decisions over HTTP from the route the API server mounts."""

from __future__ import annotations

import argparse

import pytest
from aiohttp import web

from cluster_fixture import MiniCluster, settle
from helpers import make_pod
from kubetui.api.errors import NotFound
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.cmd import scheduler as commands
from kubetui.scheduler.explain import API_VERSION, decisions_path, handle_decisions


def test_parser_registers_explain_pod():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig")
    sub = parser.add_subparsers()
    commands.register(sub)
    args = parser.parse_args(["--kubeconfig", "/x", "explain", "pod", "web-1", "-n", "shop", "--node", "node-2"])
    assert (args.pod, args.namespace, args.node, args.kubeconfig) == ("web-1", "shop", "node-2", "/x")
    assert args.func is commands.cmd_explain_pod
    args = parser.parse_args(["explain", "pod", "web-1", "--kubeconfig", "/y", "--all", "--json"])
    assert args.kubeconfig == "/y" and args.all and args.json and args.namespace == "default"


@pytest.fixture
async def served(tmp_path):
    """A scheduled pod, and an HTTP server on 127.0.0.1 serving its decisions as the API server would."""
    c = await MiniCluster().start()
    await c.add_node("node-1", cpus=1)
    await c.add_node("node-2", cpus=4)
    pod = make_pod("web", cpu="2")
    pod["metadata"].pop("uid")
    await c.client.create("pods", pod, "default")
    await settle(lambda: c.scheduler.bound >= 1, "the pod bound")

    async def decisions(request: web.Request) -> web.Response:
        code, body = handle_decisions(c.scheduler, request.match_info["ns"], request.match_info["name"])
        return web.json_response(body, status=code)

    app = web.Application()
    app.router.add_get(f"/apis/{API_VERSION}/namespaces/{{ns}}/decisions/{{name}}", decisions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "t", f"http://127.0.0.1:{port}", None, "token")
    yield kubeconfig
    await runner.cleanup()
    await c.stop()


async def test_fetch_and_render_decisions(served):
    from rich.console import Console

    body = await commands.fetch_decisions(served, "default", "web")
    assert body["kind"] == "PodSchedulingDecisions"
    attempt = body["attempts"][-1]
    assert attempt["selectedNode"] == "node-2"
    console = Console(width=220, record=True)
    for part in commands.render_attempt(attempt, node="node-2"):
        console.print(part)
    text = console.export_text()
    assert "node-1" in text and "Rejected" in text and "Insufficient cpu" in text
    assert "★ selected" in text and "Node node-2 — Filter: Passed" in text
    with pytest.raises(NotFound):
        await commands.fetch_decisions(served, "default", "missing")


def test_decisions_path():
    assert decisions_path("shop", "web-1") == "/apis/scheduling.kubetui.dev/v1alpha1/namespaces/shop/decisions/web-1"
