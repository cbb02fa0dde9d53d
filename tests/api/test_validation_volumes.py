"""Volume sources' item rules, with upstream's field paths and messages (issue 12, item 6).

A downward API item is ``path`` plus exactly one of ``fieldRef`` /
``resourceFieldRef`` (no ``key``); a Secret's or ConfigMap's item is ``key`` plus
``path``. The Kubernetes documentation's own manifests must be accepted
unchanged (``manifests/dapi-volume*.yaml``, from the task "Expose Pod
Information to Containers Through Files"). Expected messages are
kube-apiserver's (pkg/apis/core/validation/validation.go), quirks included:
downward API item errors carry no item index.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetui.api.defaults import apply_defaults
from kubetui.api.resources import resource_for
from kubetui.api.validation import validate

MANIFESTS = Path(__file__).parent / "manifests"
PODS = resource_for("pods")


def pod_with(volume: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                                     "volumeMounts": [{"name": "v", "mountPath": "/v"}]}],
                     "volumes": [dict(volume, name="v")]}}


def causes(obj: dict[str, Any]) -> list[tuple[str, str]]:
    obj = copy.deepcopy(obj)
    apply_defaults(PODS, obj)
    return [(c["field"], c["message"]) for c in validate(PODS, obj)]


@pytest.mark.parametrize("name", ["dapi-volume.yaml", "dapi-volume-resources.yaml"])
def test_the_documentations_downward_api_pods_are_valid(name):
    (pod,) = [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
    pod["metadata"]["namespace"] = "default"
    assert causes(pod) == []


def test_downward_api_projected_and_config_items_are_valid():
    items = [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
             {"path": "team", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.labels['team']"}},
             {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory",
                                                  "divisor": "1Mi"}},
             {"path": "hp", "resourceFieldRef": {"containerName": "c", "resource": "requests.hugepages-2Mi"}}]
    assert causes(pod_with({"downwardAPI": {"items": items}})) == []
    assert causes(pod_with({"projected": {"sources": [
        {"downwardAPI": {"items": items[:1]}},
        {"configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
        {"secret": {"name": "s", "items": [{"key": "b", "path": "sub/b", "mode": 0o400}]}},
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}})) == []


V = "spec.volumes[0]"
BAD = [
    # downward API files: errors on the source's path, no item index (upstream's own quirk)
    ({"downwardAPI": {"items": [{"path": "x"}]}},
     [(f"{V}.downwardAPI", "Required value: one of fieldRef and resourceFieldRef is required")]),
    ({"downwardAPI": {"items": [{"fieldRef": {"fieldPath": "metadata.name"}}]}},
     [(f"{V}.downwardAPI.path", "Required value")]),
    ({"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "metadata.name"},
                                 "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu"}}]}},
     [(f"{V}.downwardAPI", 'Invalid value: "resource": fieldRef and resourceFieldRef can not be specified '
                           'simultaneously')]),
    ({"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}}]}},
     [(f"{V}.downwardAPI.fieldRef.fieldPath", 'Unsupported value: "spec.nodeName": supported values: '
       '"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"')]),
    ({"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "metadata.nope"}}]}},
     [(f"{V}.downwardAPI.fieldRef.fieldPath", 'Invalid value: "metadata.nope": error converting fieldPath: '
                                              'field label not supported: metadata.nope')]),
    ({"downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "metadata.name['a']"}}]}},
     [(f"{V}.downwardAPI.fieldRef.fieldPath", "Invalid value: \"metadata.name['a']\": error converting "
                                              "fieldPath: field label not supported: metadata.name['a']")]),
    ({"downwardAPI": {"items": [{"path": "x", "resourceFieldRef": {"resource": "limits.cpu"}}]}},
     [(f"{V}.downwardAPI.resourceFieldRef.containerName", "Required value")]),
    ({"downwardAPI": {"items": [{"path": "x", "resourceFieldRef": {"containerName": "c", "resource": "cpu"}}]}},
     [(f"{V}.downwardAPI.resourceFieldRef.resource", 'Unsupported value: "cpu": supported values: "limits.cpu", '
       '"limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", '
       '"requests.memory"')]),
    ({"downwardAPI": {"items": [{"path": "x", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu",
                                                                   "divisor": "2"}}]}},
     [(f"{V}.downwardAPI.resourceFieldRef.divisor", 'Invalid value: "limits.cpu": only divisor\'s values 1m and 1 '
                                                    'are supported with the cpu resource')]),
    ({"downwardAPI": {"items": [{"path": "../x", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o1000}]}},
     [(f"{V}.downwardAPI.path", 'Invalid value: "../x": must not contain \'..\''),
      (f"{V}.downwardAPI.mode", "Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive")]),
    ({"downwardAPI": {"items": [{"path": "..data", "fieldRef": {"fieldPath": "metadata.name"}}]}},
     [(f"{V}.downwardAPI.path", 'Invalid value: "..data": must not start with \'..\'')]),
    # ConfigMap/Secret items: key and path, with the item's index
    ({"configMap": {"name": "cfg", "items": [{"path": "a"}]}},
     [(f"{V}.configMap.items[0].key", "Required value")]),
    ({"secret": {"secretName": "s", "items": [{"key": "a", "path": "/etc/a"}]}},
     [(f"{V}.secret.items[0].path", 'Invalid value: "/etc/a": must be a relative path')]),
    ({"secret": {"items": [{"key": "a", "path": "a"}]}}, [(f"{V}.secret.secretName", "Required value")]),
    # projected: one kind per source, file paths unique across sources, the token's path on the volume
    ({"projected": {"sources": [{"configMap": {"name": "a", "items": [{"key": "k", "path": "same"}]},
                                 "secret": {"name": "b"}},
                                {"downwardAPI": {"items": [{"path": "same",
                                                            "fieldRef": {"fieldPath": "metadata.uid"}}]}}]}},
     [(f"{V}.projected.sources[0]", "Forbidden: may not specify more than 1 volume type per source"),
      (f"{V}.projected", 'Invalid value: "same": conflicting duplicate paths')]),
    ({"projected": {"sources": [{"downwardAPI": {"items": [{"path": "x"}]}}]}},
     [(f"{V}.projected.sources[0].downwardAPI", "Required value: one of fieldRef and resourceFieldRef is required")]),
    ({"projected": {"sources": [{"serviceAccountToken": {"expirationSeconds": 60}}]}},
     [(f"{V}.projected.sources[0].serviceAccountToken.expirationSeconds",
       "Invalid value: 60: may not specify a duration less than 10 minutes"),
      (f"{V}.projected.path", "Required value")]),
    # the volume source itself
    ({"emptyDir": {}, "hostPath": {"path": "/x"}},
     [(f"{V}.hostPath", "Forbidden: may not specify more than 1 volume type")]),
    ({"secret": {"secretName": "a"}, "downwardAPI": {}},
     [(f"{V}.downwarAPI", "Forbidden: may not specify more than 1 volume type")]),
    ({"emptyDir": {"sizeLimit": "-1Gi"}},
     [(f"{V}.emptyDir.sizeLimit", "Forbidden: SizeLimit field must be a valid resource quantity")]),
    ({"hostPath": {"path": "/x", "type": "Dir"}},
     [(f"{V}.hostPath.type", 'Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", '
       '"Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"')]),
]


@pytest.mark.parametrize("volume, want", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_volume_items(volume, want):
    got = causes(pod_with(volume))
    # a volume that fails validation is not mountable, as upstream: the mount's "Not found" follows
    assert got == want + [("spec.containers[0].volumeMounts[0].name", 'Not found: "v"')]
