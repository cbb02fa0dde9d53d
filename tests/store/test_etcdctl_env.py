"""etcdctl beside kubetui: ``kubetui store env`` prints what etcdctl needs (its own ETCDCTL_* variables),
and kubetui's own etcdctl calls keep working in a shell where those are exported."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kubetui.cmd.storeops import _etcdctl, etcdctl_env
from kubetui.cmdutil import CLIError
from kubetui.store.etcdserver import find_binary


@pytest.mark.etcd
def test_kubetuis_etcdctl_calls_ignore_the_learners_etcdctl_environment(etcd_member, monkeypatch) -> None:
    # etcdctl itself refuses a flag that is also set as ETCDCTL_<FLAG>: what a learner's shell has after
    # `eval "$(kubetui store env)"`. kubetui's calls (snapshot save) must still work there.
    monkeypatch.setenv("ETCDCTL_ENDPOINTS", etcd_member.endpoint)
    monkeypatch.setenv("ETCDCTL_CACERT", str(etcd_member.tls.ca))
    out = _etcdctl(etcd_member.endpoint, etcd_member.tls, "endpoint", "health", "-w", "json")
    assert json.loads(out)[0]["health"] is True


@pytest.mark.etcd
def test_store_env_exports_work_for_plain_etcdctl(etcd_member, tmp_path: Path, monkeypatch) -> None:
    import os

    from kubetui.cluster.settings import ClusterSettings
    state = tmp_path / "c"
    ClusterSettings(name="c", store="etcd").save(state)
    (state / "etcd.json").write_text(json.dumps({
        "endpoint": etcd_member.endpoint, "cacert": str(etcd_member.tls.ca),
        "cert": str(etcd_member.tls.client_cert), "key": str(etcd_member.tls.client_key)}))
    monkeypatch.setattr("kubetui.statedir.running_pid", lambda s: os.getpid())
    text = etcdctl_env(state)
    assert f"export ETCDCTL_ENDPOINTS={etcd_member.endpoint}" in text.splitlines()
    assert f"export ETCDCTL_CERT={etcd_member.tls.client_cert}" in text.splitlines()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCDCTL_")}
    r = subprocess.run(["bash", "-c", f'{text}\netcdctl endpoint health'], capture_output=True, text=True,
                       timeout=60, env=dict(env, PATH=str(Path(find_binary("etcdctl")).parent) + ":" + env["PATH"]))
    assert r.returncode == 0 and "is healthy" in (r.stdout + r.stderr), r.stderr
    flags = etcdctl_env(state, "flags")
    assert flags.startswith(f"--endpoints {etcd_member.endpoint} --cacert ")

    ClusterSettings(name="c", store="tinydb").save(state)
    with pytest.raises(CLIError, match="TinyDB, not etcd"):
        etcdctl_env(state)
