import pytest

from kubetui.runtime import images
from kubetui.runtime.cri import ImagePullError


@pytest.mark.parametrize("ref,expected", [
    ("kubetui/hello:2", ("kubetui/hello", "2")),
    ("busybox", ("busybox", "latest")),
    ("docker.io/library/busybox:1.36", ("busybox", "1.36")),
    ("localhost:5000/x", ("localhost:5000/x", "latest")),
    ("kubetui/crash@sha256:abc", ("kubetui/crash", "latest")),
    # the Kubernetes documentation's images (e.g. dapi-volume.yaml): first-hour walk-through
    ("registry.k8s.io/busybox:1.27.2", ("busybox", "1.27.2")),
    ("k8s.gcr.io/busybox", ("busybox", "latest")),
])
def test_parse_ref(ref, expected):
    assert images.parse_ref(ref) == expected


def test_resolve_known_and_any_busybox_tag():
    assert images.resolve("kubetui/hello:broken").env["KUBETUI_VERSION"] == "broken"
    assert images.resolve("busybox:1.36.1").cmd == ("sh",)
    assert images.resolve("kubetui/hello").tag == "1"
    assert images.resolve("registry.k8s.io/busybox:1.27.2").cmd == ("sh",)


def test_unknown_image_lists_available():
    with pytest.raises(ImagePullError) as e:
        images.resolve("nginx:1.25")
    assert e.value.reason == "ErrImagePull"
    assert '"nginx:1.25"' in e.value.message and "kubetui/hello:1" in e.value.message


@pytest.mark.parametrize("command,args,expected", [
    (None, None, ["PY", "-m", "kubetui.workloads.crash"]),
    (None, ["5", "3"], ["PY", "-m", "kubetui.workloads.crash", "5", "3"]),
    (["sleep"], None, ["sleep"]),
    (["sh", "-c"], ["echo hi"], ["sh", "-c", "echo hi"]),
])
def test_command_args_rules(command, args, expected):
    img = images.resolve("kubetui/crash")
    assert images.container_argv(img, command, args, "PY") == expected


def test_busybox_default_runs_sh():
    assert images.container_argv(images.resolve("busybox"), None, None, "PY") == ["sh"]
