"""CustomResourceDefinitions with the real kubectl (issue 14): the docs' CronTab example applied
unchanged, custom resources served once Established, validation, defaulting, pruning, status and
scale subresources, two versions, ``kubectl explain``, and deleting a CRD deleting its objects."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from kubetui.api.customresource.serve import serve
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.controllers.manager import ControllerManager

from tests.apiserver.test_http_support import HTTPCluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")
HERE = Path(__file__).parent / "crd"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("crd"))
    cm = ControllerManager(InProcessClient(c.registry), resync_seconds=None,
                           controllers=["customresourcedefinition", "namespace", "garbage-collector"])
    await cm.start()
    yield c
    await cm.stop()
    await c.stop()
    serve([])  # the served custom resources are process-wide: leave none behind for other modules


async def ok(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out


async def fails(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> str:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc != 0, f"kubectl {' '.join(args)} succeeded: {out}"
    return err


async def established(c: HTTPCluster, name: str) -> None:
    await ok(c, "wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")


def rows(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}


async def test_docs_crontab_example_applies_unchanged_and_is_served(cluster):
    assert "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created" in await ok(
        cluster, "apply", "-f", str(HERE / "crontab.yaml"))
    await established(cluster, "crontabs.stable.example.com")
    crd = json.loads(await ok(cluster, "get", "crd", "crontabs.stable.example.com", "-o", "json"))
    conds = {c["type"]: (c["status"], c["reason"], c["message"]) for c in crd["status"]["conditions"]}
    assert conds["NamesAccepted"] == ("True", "NoConflicts", "no conflicts found")
    assert conds["Established"] == ("True", "InitialNamesAccepted", "the initial names have been accepted")
    assert crd["status"]["acceptedNames"] == {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                                              "listKind": "CronTabList", "shortNames": ["ct"]}
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    header = (await ok(cluster, "get", "crd")).splitlines()[0].split()
    assert header == ["NAME", "CREATED", "AT"]
    assert rows(await ok(cluster, "api-resources", "--api-group=stable.example.com"))["crontabs"] == [
        "crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    # a new kubectl process learns the resource from (aggregated) discovery
    assert "crontab.stable.example.com/my-new-cron-object created" in await ok(
        cluster, "apply", "-f", "-", stdin=b"apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n"
        b"  name: my-new-cron-object\nspec:\n  cronSpec: '* * * * */5'\n  image: my-awesome-cron-image\n")
    got = yaml.safe_load(await ok(cluster, "get", "ct", "my-new-cron-object", "-o", "yaml"))
    assert got["spec"] == {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image"}
    assert got["metadata"]["generation"] == 1
    assert ["my-new-cron-object"] == [r for r in rows(await ok(cluster, "get", "crontabs"))]
    explain = await ok(cluster, "explain", "crontab.spec")
    assert "KIND:       CronTab" in explain and "cronSpec\t<string>" in explain and "replicas\t<integer>" in explain
    # unknown fields: kubectl asks for Strict validation, so the server refuses them (no schema for them)
    err = await fails(cluster, "apply", "-f", "-", stdin=b"apiVersion: stable.example.com/v1\nkind: CronTab\n"
                      b"metadata: {name: bad}\nspec: {cronSpec: x, colour: red}\n")
    assert ('CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
            'unknown field "spec.colour"') in err


async def test_printer_columns_variant(cluster):
    await ok(cluster, "apply", "-f", str(HERE / "crontab-columns.yaml"))
    await ok(cluster, "apply", "-f", "-", stdin=b"apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n"
             b"  name: cols\nspec: {cronSpec: '* * * * */5', replicas: 3}\n")
    out = await ok(cluster, "get", "ct", "cols")
    assert out.splitlines()[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    cells = out.splitlines()[1].split()
    assert cells[:6] == ["cols", "*", "*", "*", "*", "*/5"] and cells[6] == "3"
    assert cells[7].endswith("s")  # an age, not a timestamp


async def test_invalid_crds_are_422_with_upstream_messages_and_nothing_stored(cluster):
    crd = yaml.safe_load((HERE / "widgets.yaml").read_text())
    bad = json.loads(json.dumps(crd))
    del bad["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["type"]
    bad["spec"]["versions"][0]["storage"] = True
    bad["metadata"]["name"] = "gadgets.example.org"
    err = await fails(cluster, "apply", "-f", "-", stdin=json.dumps(bad).encode())
    assert 'The CustomResourceDefinition "gadgets.example.org" is invalid' in err
    assert 'metadata.name: Invalid value: "gadgets.example.org": must be spec.names.plural+"."+spec.group' in err
    assert "spec.versions[1].schema.openAPIV3Schema.type: Required value: must not be empty at the root" in err
    assert "spec.versions: Invalid value: " in err and "must have exactly one version marked as storage version" in err
    bad = json.loads(json.dumps(crd))
    bad["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"]["type"] = "strin"
    err = await fails(cluster, "apply", "-f", "-", stdin=json.dumps(bad).encode())
    assert ('spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[size].type: Unsupported value: '
            '"strin": supported values: "array", "boolean", "integer", "number", "object", "string"') in err
    bad["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"] = {}
    err = await fails(cluster, "apply", "-f", "-", stdin=json.dumps(bad).encode())
    assert ("spec.versions[1].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: "
            "must not be empty for specified object fields") in err
    assert "widgets" not in await ok(cluster, "get", "crd")


async def test_validation_defaulting_pruning_status_scale_and_versions(cluster):
    await ok(cluster, "apply", "-f", str(HERE / "widgets.yaml"))
    await established(cluster, "widgets.example.org")
    err = await fails(cluster, "apply", "-f", "-", stdin=b"apiVersion: example.org/v1\nkind: Widget\n"
                      b"metadata: {name: w}\nspec: {cronSpec: '* * * *', replicas: 15, size: huge}\n")
    assert 'The Widget "w" is invalid' in err
    assert ("spec.cronSpec: Invalid value: \"* * * *\": spec.cronSpec in body should match "
            "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'") in err
    assert "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10" in err
    assert 'spec.size: Unsupported value: "huge": supported values: "small", "large"' in err
    err = await fails(cluster, "apply", "-f", "-", stdin=b"apiVersion: example.org/v1\nkind: Widget\n"
                      b"metadata: {name: w}\nspec: {replicas: two}\n")
    assert "spec.cronSpec: Required value" in err
    assert 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"' in err
    assert "NotFound" in await fails(cluster, "get", "widget", "w")
    # defaulting; pruning (with fieldValidation=Ignore) except under x-kubernetes-preserve-unknown-fields
    await ok(cluster, "apply", "--validate=false", "-f", "-", stdin=b"apiVersion: example.org/v1\nkind: Widget\n"
             b"metadata: {name: w}\nspec: {cronSpec: '*/1 * * * *', port: http, junk: 1, extra: {any: [1]}}\n"
             b"status: {replicas: 9}\n")
    w = json.loads(await ok(cluster, "get", "widget", "w", "-o", "json"))
    assert w["spec"] == {"cronSpec": "*/1 * * * *", "port": "http", "extra": {"any": [1]}, "replicas": 1,
                         "size": "small"}
    assert "status" not in w  # the status subresource owns it
    # scale subresource
    assert "widget.example.org/w scaled" in await ok(cluster, "scale", "widget", "w", "--replicas=4")
    assert json.loads(await ok(cluster, "get", "widget", "w", "-o", "json"))["spec"]["replicas"] == 4
    # status subresource
    await ok(cluster, "patch", "widget", "w", "--subresource=status", "--type=merge",
             "-p", '{"status": {"replicas": 4, "selector": "app=w"}}')
    scale = json.loads(await ok(cluster, "get", "--raw",
                                "/apis/example.org/v1/namespaces/default/widgets/w/scale"))
    assert scale["spec"] == {"replicas": 4} and scale["status"] == {"replicas": 4, "selector": "app=w"}
    # merge patch works; strategic merge is refused as upstream
    await ok(cluster, "patch", "widget", "w", "--type=merge", "-p", '{"spec": {"size": "large"}}')
    err = await fails(cluster, "patch", "widget", "w", "-p", '{"spec": {"size": "small"}}')
    assert ("the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml") in err
    # printer columns, priority 1 only with -o wide; category all
    assert (await ok(cluster, "get", "wd")).splitlines()[0].split() == ["NAME", "REPLICAS"]
    assert (await ok(cluster, "get", "wd", "-o", "wide")).splitlines()[0].split() == ["NAME", "REPLICAS", "SIZE"]
    assert "widget.example.org/w" in await ok(cluster, "get", "all")
    # the other version: same object, apiVersion rewritten (None conversion)
    old = json.loads(await ok(cluster, "get", "widgets.v1beta1.example.org", "w", "-o", "json"))
    assert old["apiVersion"] == "example.org/v1beta1" and old["spec"]["size"] == "large"
    raw = json.loads(await ok(cluster, "get", "--raw", "/apis/example.org/v1beta1/namespaces/default/widgets"))
    assert raw["apiVersion"] == "example.org/v1beta1" and raw["items"][0]["apiVersion"] == "example.org/v1beta1"


async def test_deleting_a_namespace_deletes_its_custom_resources(cluster):
    await ok(cluster, "create", "namespace", "wd-ns")
    await ok(cluster, "apply", "-n", "wd-ns", "-f", "-", stdin=b"apiVersion: example.org/v1\nkind: Widget\n"
             b"metadata: {name: in-ns}\nspec: {cronSpec: '* * * * *'}\n")
    await ok(cluster, "delete", "namespace", "wd-ns", "--wait=true", "--timeout=60s")
    assert cluster.registry.store.range("/registry/example.org/widgets/wd-ns/") == []


async def test_deleting_a_crd_deletes_its_objects(cluster):
    await ok(cluster, "create", "namespace", "crd-del")
    for i in range(3):
        await ok(cluster, "apply", "-n", "crd-del", "-f", "-", stdin=(
            f"apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {{name: c{i}}}\nspec: {{cronSpec: x}}\n"
        ).encode())
    await ok(cluster, "delete", "crd", "crontabs.stable.example.com", "--wait=true", "--timeout=60s")
    assert "crontabs" not in await ok(cluster, "get", "crd")
    out = await ok(cluster, "api-resources", "--api-group=stable.example.com")
    assert "crontabs" not in out
    for _ in range(100):  # its local APIService goes too (autoregister), right after
        if cluster.registry.store.get("/registry/apiregistration.k8s.io/apiservices/v1.stable.example.com") is None:
            break
        await asyncio.sleep(0.1)
    assert "v1.stable.example.com" not in await ok(cluster, "get", "apiservices")
    for _ in range(100):
        if not cluster.registry.store.range("/registry/stable.example.com/"):
            break
        await asyncio.sleep(0.1)
    assert cluster.registry.store.range("/registry/stable.example.com/") == []


async def test_apiservices_local_ones_and_a_remote_one_said_unavailable(cluster):
    out = await ok(cluster, "get", "apiservices")
    assert out.splitlines()[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    got = rows(out)
    assert got["v1."][1:3] == ["Local", "True"] and got["v1.apps"][1:3] == ["Local", "True"]
    assert got["v1.example.org"][1:3] == ["Local", "True"]  # a CRD's group/version is registered too
    await ok(cluster, "apply", "-f", "-", stdin=b"apiVersion: apiregistration.k8s.io/v1\nkind: APIService\n"
             b"metadata: {name: v1beta1.custom.metrics.k8s.io}\nspec:\n  service: {name: adapter, namespace: "
             b"monitoring}\n  group: custom.metrics.k8s.io\n  version: v1beta1\n  insecureSkipTLSVerify: true\n"
             b"  groupPriorityMinimum: 100\n  versionPriority: 100\n")
    svc = json.loads(await ok(cluster, "get", "apiservice", "v1beta1.custom.metrics.k8s.io", "-o", "json"))
    cond = svc["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "False", "ServiceNotFound")
    assert "API aggregation is not supported" in cond["message"]
    assert rows(await ok(cluster, "get", "apiservices"))["v1beta1.custom.metrics.k8s.io"][1:4] == [
        "monitoring/adapter", "False", "(ServiceNotFound)"]
    err = await fails(cluster, "apply", "-f", "-", stdin=b"apiVersion: apiregistration.k8s.io/v1\nkind: APIService\n"
                      b"metadata: {name: wrong}\nspec: {group: a.b, version: v1, groupPriorityMinimum: 100, "
                      b"versionPriority: 100}\n")
    assert 'metadata.name: Invalid value: "wrong": must be `spec.version+"."+spec.group`: "v1.a.b"' in err
