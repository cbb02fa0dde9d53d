"""Real kubectl against a tiny loopback server that serves only discovery and our
OpenAPI v3 documents: ``kubectl explain`` must work and ``kubectl create -f``
must send ``fieldValidation=Strict`` (it trusts the server to validate)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from aiohttp import web

from kubetui.api.openapi import openapi_v3_document_bytes, openapi_v3_index
from kubetui.api.resources import RESOURCES, groups

KUBECTL = shutil.which("kubectl") or "/work/venv/bin/kubectl"
pytestmark = pytest.mark.skipif(not Path(KUBECTL).exists(), reason="kubectl not installed")


def _resource_list(group: str, version: str) -> dict:
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
        {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
         "verbs": list(r.verbs), "shortNames": list(r.short_names)}
        for r in RESOURCES if r.group == group and r.version == version]}


def _app(seen: list[str]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        seen.append(f"{request.method} {request.path_qs}")
        path = request.path
        if path == "/api":
            return web.json_response({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in groups().items() if g]})
        if path == "/api/v1":
            return web.json_response(_resource_list("", "v1"))
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "apis":
            return web.json_response(_resource_list(parts[1], parts[2]))
        if path == "/openapi/v3":
            return web.json_response(openapi_v3_index())
        if path.startswith("/openapi/v3/"):
            found = openapi_v3_document_bytes(path[len("/openapi/v3/"):])
            if found:
                return web.Response(body=found[0], content_type="application/json")
        if request.method == "POST":
            body = await request.json()
            body.setdefault("metadata", {})["uid"] = "u1"
            return web.json_response(body, status=201)
        return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound",
                                  "code": 404, "message": "not found"}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@pytest.fixture
async def server(tmp_path):
    seen: list[str] = []
    runner = web.AppRunner(_app(seen))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u", "namespace": "default"}}],
        "users": [{"name": "u", "user": {}}]}))
    yield kubeconfig, seen
    await runner.cleanup()


async def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        KUBECTL, f"--kubeconfig={kubeconfig}", f"--cache-dir={kubeconfig.parent / 'cache'}", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout=60)
    return proc.returncode, out.decode(), err.decode()


async def test_kubectl_explain_uses_our_schemas(server):
    kubeconfig, _ = server
    rc, out, err = await _kubectl(kubeconfig, "explain", "pod.spec.containers")
    assert rc == 0, err
    assert "KIND:       Pod" in out and "FIELD: containers <[]Container>" in out
    assert "A single application container" in out
    assert "name\t<string> -required-" in out
    rc, out, err = await _kubectl(kubeconfig, "explain", "deployment.spec.strategy.rollingUpdate.maxSurge")
    assert rc == 0, err
    assert "GROUP:      apps" in out and "The maximum number of pods that can be scheduled above" in out
    rc, out, err = await _kubectl(kubeconfig, "explain", "lease", "--recursive")
    assert rc == 0, err
    assert "holderIdentity" in out and "renewTime" in out


async def test_kubectl_create_sends_strict_field_validation(server):
    kubeconfig, seen = server
    manifest = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                           "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                               "metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    rc, out, err = await _kubectl(kubeconfig, "create", "-f", "-", stdin=manifest)
    assert rc == 0, err
    posts = [s for s in seen if s.startswith("POST")]
    assert posts and "fieldValidation=Strict" in posts[0], seen
    assert not any("/openapi/v2" in s for s in seen), seen
