"""CustomResourceDefinitions with the official Python client (issue 14): ``ApiextensionsV1Api``,
``CustomObjectsApi`` (create/get/list/watch/patch/status/scale/delete) and the dynamic client."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
import pytest_asyncio
import yaml
from kubernetes import dynamic, watch as k8s_watch
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from kubetui.api.customresource.serve import serve
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.controllers.manager import ControllerManager

from tests.apiserver.test_http_support import start_cluster
from tests.apiserver.test_pyclient import api_client

pytestmark = pytest.mark.asyncio(loop_scope="module")
HERE = Path(__file__).parent / "crd"
G, V, P = "example.org", "v1", "widgets"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("crdpy"))
    cm = ControllerManager(InProcessClient(c.registry), resync_seconds=None,
                           controllers=["customresourcedefinition", "namespace", "garbage-collector"])
    await cm.start()
    yield c
    await cm.stop()
    await c.stop()
    serve([])  # the served custom resources are process-wide: leave none behind for other modules


async def established(ext: k8s.ApiextensionsV1Api, name: str) -> None:
    for _ in range(200):
        crd = await asyncio.to_thread(ext.read_custom_resource_definition_status, name)
        if any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or []):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never Established")


async def test_custom_objects_api_end_to_end(cluster):
    api = api_client(cluster)
    ext = k8s.ApiextensionsV1Api(api)
    crd = yaml.safe_load((HERE / "widgets.yaml").read_text())
    await asyncio.to_thread(ext.create_custom_resource_definition, crd)
    await established(ext, "widgets.example.org")
    co = k8s.CustomObjectsApi(api)
    seen: list[tuple[str, str]] = []
    stop = threading.Event()

    def watch() -> None:
        w = k8s_watch.Watch()
        for ev in w.stream(co.list_namespaced_custom_object, G, V, "default", P, timeout_seconds=10):
            seen.append((ev["type"], ev["object"]["metadata"]["name"]))
            if ev["type"] == "DELETED" or stop.is_set():
                w.stop()

    watcher = asyncio.create_task(asyncio.to_thread(watch))
    await asyncio.sleep(0.3)
    body = {"apiVersion": "example.org/v1", "kind": "Widget", "metadata": {"name": "py"},
            "spec": {"cronSpec": "* * * * *", "junk": True}}
    # the client sends no fieldValidation: the server default (Warn) prunes the unknown field
    created = await asyncio.to_thread(co.create_namespaced_custom_object, G, V, "default", P, body)
    assert created["spec"] == {"cronSpec": "* * * * *", "replicas": 1, "size": "small"}
    assert created["metadata"]["generation"] == 1
    got = await asyncio.to_thread(co.get_namespaced_custom_object, G, V, "default", P, "py")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    lst = await asyncio.to_thread(co.list_namespaced_custom_object, G, V, "default", P)
    assert lst["kind"] == "WidgetList" and [i["metadata"]["name"] for i in lst["items"]] == ["py"]
    patched = await asyncio.to_thread(co.patch_namespaced_custom_object, G, V, "default", P, "py",
                                      {"spec": {"replicas": 3}})
    assert patched["spec"]["replicas"] == 3 and patched["metadata"]["generation"] == 2
    st = await asyncio.to_thread(co.patch_namespaced_custom_object_status, G, V, "default", P, "py",
                                 {"status": {"replicas": 3}})
    assert st["status"] == {"replicas": 3} and st["metadata"]["generation"] == 2
    scale = await asyncio.to_thread(co.patch_namespaced_custom_object_scale, G, V, "default", P, "py",
                                    {"spec": {"replicas": 5}})
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 5 and scale["status"]["replicas"] == 3
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(co.patch_namespaced_custom_object, G, V, "default", P, "py",
                                {"spec": {"replicas": 50}})
    assert exc.value.status == 422
    status = json.loads(exc.value.body)
    assert status["reason"] == "Invalid" and status["details"]["kind"] == "Widget"
    assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "spec.replicas", "message":
                                            "Invalid value: 50: spec.replicas in body should be less than or "
                                            "equal to 10"}]
    await asyncio.to_thread(co.delete_namespaced_custom_object, G, V, "default", P, "py")
    await asyncio.wait_for(watcher, 15)
    assert seen[0] == ("ADDED", "py") and seen[-1] == ("DELETED", "py") and ("MODIFIED", "py") in seen
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(co.get_namespaced_custom_object, G, V, "default", P, "py")
    assert exc.value.status == 404
    assert json.loads(exc.value.body)["message"] == 'widgets.example.org "py" not found'


async def test_dynamic_client_discovers_custom_resources(cluster):
    dyn = await asyncio.to_thread(dynamic.DynamicClient, api_client(cluster))
    widgets = await asyncio.to_thread(dyn.resources.get, api_version="example.org/v1", kind="Widget")
    assert widgets.namespaced and widgets.name == "widgets"
    await asyncio.to_thread(widgets.create, body={"apiVersion": "example.org/v1", "kind": "Widget",
                                                  "metadata": {"name": "dyn"}, "spec": {"cronSpec": "* * * * *"}},
                            namespace="default")
    got = await asyncio.to_thread(widgets.get, name="dyn", namespace="default")
    assert got.spec.size == "small"
    old = await asyncio.to_thread(dyn.resources.get, api_version="example.org/v1beta1", kind="Widget")
    assert (await asyncio.to_thread(old.get, name="dyn", namespace="default")).apiVersion == "example.org/v1beta1"
    await asyncio.to_thread(widgets.delete, name="dyn", namespace="default")


async def test_cluster_scoped_custom_resource(cluster):
    api = api_client(cluster)
    ext = k8s.ApiextensionsV1Api(api)
    await asyncio.to_thread(ext.create_custom_resource_definition, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "regions.geo.example.org"},
        "spec": {"group": "geo.example.org", "scope": "Cluster",
                 "names": {"plural": "regions", "singular": "region", "kind": "Region"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    await established(ext, "regions.geo.example.org")
    co = k8s.CustomObjectsApi(api)
    r = await asyncio.to_thread(co.create_cluster_custom_object, "geo.example.org", "v1", "regions",
                                {"apiVersion": "geo.example.org/v1", "kind": "Region", "metadata": {"name": "eu"},
                                 "spec": {"anything": [1, 2]}})
    assert "namespace" not in r["metadata"] and r["spec"] == {"anything": [1, 2]}
    # a second CRD of the group may not take a kind already accepted: NamesAccepted False, never Established
    await asyncio.to_thread(ext.create_custom_resource_definition, {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "zones.geo.example.org"},
        "spec": {"group": "geo.example.org", "scope": "Cluster",
                 "names": {"plural": "zones", "singular": "zone", "kind": "Region"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}})
    for _ in range(200):
        crd = await asyncio.to_thread(ext.read_custom_resource_definition, "zones.geo.example.org")
        conds = {c.type: c for c in crd.status.conditions or []}
        if "NamesAccepted" in conds:
            break
        await asyncio.sleep(0.05)
    assert (conds["NamesAccepted"].status, conds["NamesAccepted"].reason, conds["NamesAccepted"].message) == (
        "False", "KindConflict", '"Region" is already in use')
    assert conds["Established"].status == "False"
    with pytest.raises(ApiException) as exc:
        await asyncio.to_thread(co.list_cluster_custom_object, "geo.example.org", "v1", "zones")
    assert exc.value.status == 404
