from __future__ import annotations

import pytest

from kubetui.lessons.jsonpath import JSONPathError, find

OBJ = {
    "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
    "spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]},
    "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Scheduled", "status": "False"}],
               "replicas": 3},
}


@pytest.mark.parametrize("path,expected", [
    ("{.metadata.name}", ["web"]),
    (".status.replicas", [3]),
    ("$.spec.containers[1].image", ["y:2"]),
    (".spec.containers[-1].name", ["b"]),
    (".spec.containers[*].name", ["a", "b"]),
    ('{.status.conditions[?(@.type=="Ready")].status}', ["True"]),
    ('.status.conditions[?(@.status!="True")].type', ["Scheduled"]),
    (r".metadata.labels.app\.kubernetes\.io/name", ["web"]),
    (".metadata.labels['app.kubernetes.io/name']", ["web"]),
    (".metadata.missing", []),
    (".spec.containers[5]", []),
])
def test_find(path, expected):
    assert find(OBJ, path) == expected


@pytest.mark.parametrize("path", ["metadata", ".a[", ".a[?(@.x>1)]", ".a[1:2]"])
def test_bad_paths(path):
    with pytest.raises(JSONPathError):
        find(OBJ, path)
