"""The ``paths`` of each per-group-version OpenAPI v3 document.

Upstream: kube-apiserver builds them from its REST storage
(k8s.io/apiserver/pkg/endpoints/openapi). kubectl reads them for one thing
above all: each kind's **patch** operation carries
``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query
parameter, which tells kubectl the server validates fields itself, so
``kubectl apply`` sends ``fieldValidation=Strict`` instead of validating
client-side.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.resources import Resource

SCHEMA_PREFIX = "#/components/schemas/"

_PACKAGE = {
    "": "io.k8s.api.core.v1", "apps": "io.k8s.api.apps.v1", "autoscaling": "io.k8s.api.autoscaling.v1",
    "policy": "io.k8s.api.policy.v1", "coordination.k8s.io": "io.k8s.api.coordination.v1",
    "discovery.k8s.io": "io.k8s.api.discovery.v1", "storage.k8s.io": "io.k8s.api.storage.v1",
    "batch": "io.k8s.api.batch.v1",
    "scheduling.k8s.io": "io.k8s.api.scheduling.v1",
    "rbac.authorization.k8s.io": "io.k8s.api.rbac.v1",
    "authorization.k8s.io": "io.k8s.api.authorization.v1", "authentication.k8s.io": "io.k8s.api.authentication.v1",
    "apiextensions.k8s.io": "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1",
    "apiregistration.k8s.io": "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1",
    "networking.k8s.io": "io.k8s.api.networking.v1",
}
META = "io.k8s.apimachinery.pkg.apis.meta.v1"

PATCH_CONTENT_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json", "application/strategic-merge-patch+json")


def schema_name(group: str, kind: str, version: str = "v1") -> str:
    """``io.k8s.api.apps.v1.Deployment`` for ``("apps", "Deployment")``; ``…autoscaling.v2…`` for version v2."""
    if group and group not in _PACKAGE:
        # a custom resource: upstream names its schema by the reversed group (``com.example.stable.v1.CronTab``)
        return ".".join(reversed(group.split("."))) + f".{version}.{kind}"
    package = _PACKAGE.get(group, "io.k8s.api.core.v1")
    if version != "v1":
        package = package.rsplit(".", 1)[0] + "." + version
    return f"{package}.{kind}"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": SCHEMA_PREFIX + name}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description,
            "schema": schema or {"type": "string", "uniqueItems": True}}


DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. An invalid or "
                           "unrecognized dryRun directive will result in an error response and no further "
                           "processing of the request. Valid values are: - All: all dry run stages will be processed")
FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making "
                                       "these changes. The value must be less than or 128 characters long, and only "
                                       "contain printable characters, as defined by "
                                       "https://golang.org/pkg/unicode/#IsPrint.")
FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently "
    "dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This "
    "is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response "
    "header for each unknown field that is dropped from the object, and for each duplicate field that is "
    "encountered. The request will still succeed if there are no other errors, and will only persist the last of "
    "any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest "
    "error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The "
    "error returned from the server will contain all unknown and duplicate fields encountered.")
FORCE = _query("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                        "fields owned by other people. Force flag must be unset for non-apply patch requests.",
               {"type": "boolean", "uniqueItems": True})
PRETTY = _query("pretty", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent "
                          "indicates a browser or command-line HTTP tool (curl and wget).")
LIST_PARAMS = [
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to "
                            "everything."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to "
                            "everything."),
    _query("limit", "limit is a maximum number of responses to return for a list call.",
           {"type": "integer", "uniqueItems": True}),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be "
                              "served from."),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.",
           {"type": "boolean", "uniqueItems": True}),
    _query("timeoutSeconds", "Timeout for the list/watch call.", {"type": "integer", "uniqueItems": True}),
    _query("watch", "Watch for changes to the described resources and return them as a stream of add, update, "
                    "and remove notifications.", {"type": "boolean", "uniqueItems": True}),
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
           {"type": "boolean", "uniqueItems": True}),
]


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "description": description, "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


def _json_body(schema: str, content_types: tuple[str, ...] = ("*/*",)) -> dict[str, Any]:
    return {"content": {ct: {"schema": _ref(schema)} for ct in content_types}, "required": True}


def _responses(schema: str, *codes: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code in codes or ("200",):
        out[code] = {"description": {"200": "OK", "201": "Created", "202": "Accepted"}.get(code, "OK"),
                     "content": {ct: {"schema": _ref(schema)} for ct in
                                 ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")}}
    out["401"] = {"description": "Unauthorized"}
    return out


def _camel_group(group: str) -> str:
    if not group:
        return "Core"
    first = group.split(".")[0]
    return first[:1].upper() + first[1:]


class _Ops:
    """Builds the operations of one resource, named as upstream names them."""

    def __init__(self, r: Resource) -> None:
        self.r = r
        self.tag = f"{(r.group.split('.')[0] if r.group else 'core')}_{r.version}"
        self.prefix = _camel_group(r.group) + r.version[:1].upper() + r.version[1:]
        self.gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        self.schema = schema_name(r.group, r.kind, r.version)

    def op(self, verb: str, action: str, kind_suffix: str, *, namespaced: bool, schema: str,
           gvk: dict[str, str] | None = None, params: list[dict[str, Any]] | None = None,
           body: dict[str, Any] | None = None, codes: tuple[str, ...] = ("200",)) -> dict[str, Any]:
        ns = "Namespaced" if namespaced else ""
        out: dict[str, Any] = {
            "tags": [self.tag],
            "description": f"{action} {kind_suffix}",
            "operationId": f"{verb}{self.prefix}{ns}{kind_suffix}",
            "parameters": params or [],
            "responses": _responses(schema, *codes),
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk or self.gvk,
        }
        if body is not None:
            out["requestBody"] = body
        return out


def resource_paths(r: Resource) -> dict[str, dict[str, Any]]:
    """Every path item kube-apiserver would list for resource ``r``."""
    base = f"/api/{r.version}" if not r.group else f"/apis/{r.group}/{r.version}"
    ops = _Ops(r)
    kind, plural, namespaced = r.kind, r.plural, r.namespaced
    common = [PRETTY]
    if namespaced:
        common = [_path_param("namespace", "object name and auth scope, such as for teams and projects"), PRETTY]
    coll = f"{base}/namespaces/{{namespace}}/{plural}" if namespaced else f"{base}/{plural}"
    item = f"{coll}/{{name}}"
    name_param = _path_param("name", f"name of the {kind}")
    write = [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]
    list_schema = f"{ops.schema}List"
    paths: dict[str, dict[str, Any]] = {}
    collection: dict[str, Any] = {"parameters": common}
    if "list" in r.verbs:
        collection["get"] = ops.op("list", "list", kind, namespaced=namespaced, schema=list_schema,
                                   params=LIST_PARAMS)
    if "create" in r.verbs:
        collection["post"] = ops.op("create", "post", kind, namespaced=namespaced, schema=ops.schema, params=write,
                                    body=_json_body(ops.schema), codes=("200", "201", "202"))
    if "deletecollection" in r.verbs:
        collection["delete"] = ops.op("deleteCollection", "deletecollection", kind, namespaced=namespaced,
                                      schema=f"{META}.Status", params=[DRY_RUN, *LIST_PARAMS],
                                      body=_json_body(f"{META}.DeleteOptions"))
    paths[coll] = collection
    single: dict[str, Any] = {"parameters": [name_param, *common]}
    if "get" in r.verbs:
        single["get"] = ops.op("read", "get", kind, namespaced=namespaced, schema=ops.schema)
    if "update" in r.verbs:
        single["put"] = ops.op("replace", "put", kind, namespaced=namespaced, schema=ops.schema, params=write,
                               body=_json_body(ops.schema), codes=("200", "201"))
    if "patch" in r.verbs:
        single["patch"] = ops.op("patch", "patch", kind, namespaced=namespaced, schema=ops.schema,
                                 params=[*write, FORCE], body=_json_body(f"{META}.Patch", PATCH_CONTENT_TYPES),
                                 codes=("200", "201"))
    if "delete" in r.verbs:
        single["delete"] = ops.op("delete", "delete", kind, namespaced=namespaced, schema=f"{META}.Status",
                                  params=[DRY_RUN], body=_json_body(f"{META}.DeleteOptions"),
                                  codes=("200", "202"))
    if any(k != "parameters" for k in single):  # create-only kinds (the reviews) have no item path
        paths[item] = single
    if namespaced and "list" in r.verbs:
        paths[f"{base}/{plural}"] = {
            "parameters": [PRETTY],
            "get": ops.op("list", "list", f"{kind}ForAllNamespaces", namespaced=False, schema=list_schema,
                          params=LIST_PARAMS)}
    for sub, ((g, v, k), verbs) in r.subresources.items():
        if not k:  # e.g. status: the parent kind itself
            g, v, k = r.group, r.version, r.kind
        paths.update(_subresource_paths(r, ops, item, sub, (g, v, k), verbs, common, write))
    return paths


def _subresource_paths(r: Resource, ops: _Ops, item: str, sub: str, gvk: tuple[str, str, str],
                       verbs: tuple[str, ...], common: list[dict[str, Any]],
                       write: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    group, version, kind = gvk
    if sub in ("exec", "attach", "portforward", "proxy"):
        return {}  # connect operations: WebSocket upgrades, nothing to describe
    schema = schema_name(group, kind, version)
    suffix = r.kind + sub[:1].upper() + sub[1:]
    gvk_d = {"group": group, "version": version, "kind": kind}
    path: dict[str, Any] = {"parameters": [_path_param("name", f"name of the {kind}"), *common]}
    if sub == "status":
        suffix = f"{r.kind}Status"
    if sub == "log":
        op = ops.op("read", "get", suffix, namespaced=r.namespaced, schema=schema, gvk=gvk_d,
                    params=[_query("container", "The container for which to stream logs."),
                            _query("follow", "Follow the log stream of the pod.", {"type": "boolean"}),
                            _query("tailLines", "Number of lines to show from the end of the logs.",
                                   {"type": "integer"})])
        op["responses"] = {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}}
        path["get"] = op
    else:
        if "get" in verbs:
            path["get"] = ops.op("read", "get", suffix, namespaced=r.namespaced, schema=schema, gvk=gvk_d)
        if "update" in verbs:
            path["put"] = ops.op("replace", "put", suffix, namespaced=r.namespaced, schema=schema, gvk=gvk_d,
                                 params=write, body=_json_body(schema), codes=("200", "201"))
        if "patch" in verbs:
            path["patch"] = ops.op("patch", "patch", suffix, namespaced=r.namespaced, schema=schema, gvk=gvk_d,
                                   params=[*write, FORCE], body=_json_body(f"{META}.Patch", PATCH_CONTENT_TYPES),
                                   codes=("200", "201"))
        if "create" in verbs:
            path["post"] = ops.op("create", "post", suffix, namespaced=r.namespaced, schema=schema, gvk=gvk_d,
                                  params=write, body=_json_body(schema), codes=("200", "201", "202"))
    return {f"{item}/{sub}": path}
