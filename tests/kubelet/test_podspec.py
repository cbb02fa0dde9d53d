"""The kubelet turns a container spec into the runtime's ContainerConfig: securityContext."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("container_sc,pod_sc,want", [
    (None, None, {"run_as_user": None, "run_as_group": None, "run_as_non_root": False,
                  "read_only_root_filesystem": False}),
    ({"runAsUser": 1000}, {"runAsUser": 5, "runAsGroup": 6}, {"run_as_user": 1000, "run_as_group": 6,
                                                              "run_as_non_root": False,
                                                              "read_only_root_filesystem": False}),
    ({"runAsUser": 0, "readOnlyRootFilesystem": True}, {"runAsUser": 5, "runAsNonRoot": True},
     {"run_as_user": 0, "run_as_group": None, "run_as_non_root": True, "read_only_root_filesystem": True}),
    # readOnlyRootFilesystem exists only on the container's securityContext
    (None, {"readOnlyRootFilesystem": True}, {"run_as_user": None, "run_as_group": None,
                                              "run_as_non_root": False, "read_only_root_filesystem": False}),
])
def test_security_settings_container_over_pod(container_sc, pod_sc, want):
    from kubetui.kubelet.podspec import security_settings
    c = {"name": "c", **({"securityContext": container_sc} if container_sc else {})}
    assert security_settings(c, pod_sc) == want
