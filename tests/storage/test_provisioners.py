"""Provisioners and volume hosts: the PersistentVolume each makes, and where its data goes."""

from __future__ import annotations

import pytest

from kubetui.storage.classes import default_class_name, shared_class, standard_class
from kubetui.storage.provisioners import Provisioners, ProvisioningError, pinned_node
from kubetui.storage.volumes import DockerVolumeHost, LocalVolumeHost, VolumeHost, volume_host_for


def claim(modes=("ReadWriteOnce",), size="1Gi", **spec) -> dict:
    return {"metadata": {"name": "data", "namespace": "default", "uid": "1234"},
            "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec}}


def test_the_default_class_is_standard_and_waits_for_its_first_consumer():
    std, shared = standard_class(), shared_class()
    assert default_class_name([shared, std]) == "standard"
    assert std["volumeBindingMode"] == "WaitForFirstConsumer" and std["reclaimPolicy"] == "Delete"
    assert shared["volumeBindingMode"] == "Immediate" and shared["provisioner"] == "kubetui.dev/shared"


@pytest.mark.parametrize("host, node_path, shared_path", [
    (VolumeHost(), "/var/lib/kubetui/volumes/pvc-1234", "/mnt/kubetui-shared/pvc-1234"),
    (DockerVolumeHost("/st"), "/var/lib/kubetui/volumes/pvc-1234", "/mnt/kubetui-shared/pvc-1234"),
    (LocalVolumeHost("/st"), "/st/nodes/node-1/volumes/pvc-1234", "/st/shared/pvc-1234"),
])
def test_paths_the_pv_carries_per_provider(host, node_path, shared_path):
    p = Provisioners(host)
    local = p.provision(claim(), standard_class(), "node-1") if not isinstance(host, LocalVolumeHost) else None
    if local is not None:
        assert local["spec"]["hostPath"] == {"path": node_path, "type": "DirectoryOrCreate"}
    assert host.node_local_path("node-1", "pvc-1234") == node_path
    assert host.shared_path("pvc-1234") == shared_path


def test_node_local_volume_is_pinned_and_prebound(tmp_path):
    p = Provisioners(LocalVolumeHost(tmp_path))
    pv = p.provision(claim(size="3Gi"), standard_class(), "node-2")
    assert pv["metadata"]["name"] == "pvc-1234"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "kubetui.dev/node-local"
    assert pv["spec"]["capacity"] == {"storage": "3Gi"}
    assert pv["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                                      "namespace": "default", "name": "data", "uid": "1234"}
    assert pinned_node(pv) == "node-2"
    directory = tmp_path / "nodes" / "node-2" / "volumes" / "pvc-1234"
    assert directory.is_dir()
    assert p.delete(pv) == f"deleted {directory}"
    assert not directory.exists()


def test_docker_node_local_data_is_left_to_the_kubelet(tmp_path):
    p = Provisioners(DockerVolumeHost(tmp_path))
    pv = p.provision(claim(), standard_class(), "node-1")
    assert "kubelet on node node-1 removes /var/lib/kubetui/volumes/pvc-1234" in p.delete(pv)
    shared = p.provision(claim(modes=("ReadWriteMany",)), shared_class(), None)
    assert (tmp_path / "shared" / "pvc-1234").is_dir()
    assert "nodeAffinity" not in shared["spec"]
    p.delete(shared)
    assert not (tmp_path / "shared" / "pvc-1234").exists()


@pytest.mark.parametrize("sc, node, c, message", [
    (standard_class(), "n", claim(modes=("ReadWriteMany",)), "only supports ReadWriteOnce"),
    (standard_class(), None, claim(), "needs a node"),
    (shared_class(), None, claim(volumeMode="Block"), "only provides Filesystem"),
    ({**shared_class(), "provisioner": "example.com/nfs"}, None, claim(), "unknown provisioner"),
])
def test_refusals(sc, node, c, message):
    with pytest.raises(ProvisioningError, match=message):
        Provisioners().provision(c, sc, node)


def test_volume_host_for_each_provider(tmp_path):
    assert isinstance(volume_host_for("local", tmp_path), LocalVolumeHost)
    assert isinstance(volume_host_for("docker", tmp_path), DockerVolumeHost)
    assert type(volume_host_for("simulated", tmp_path)) is VolumeHost
