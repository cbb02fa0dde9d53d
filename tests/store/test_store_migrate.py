"""``kubetui store migrate --to etcd|tinydb`` on a stopped cluster: every object copied and verified,
resourceVersions as documented, and ``--store`` refusing to switch without it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from kubetui.cli import main
from kubetui.cluster.settings import ClusterSettings, StoreSwitchRefused, settings_from_args
from kubetui.store import Store

pytestmark = pytest.mark.etcd


async def _fill(directory: Path) -> dict[str, int]:
    async with Store(directory) as s:
        for i in range(30):
            await s.create(f"/registry/configmaps/default/c{i}", {"kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                                                   "data": {"i": str(i)}})
        await s.delete("/registry/configmaps/default/c0")
        return {kv.key: kv.mod_revision for kv in s.range("/")}


def _read(state: Path) -> tuple[int, dict[str, tuple[int, dict]]]:
    async def go():
        from kubetui.cmd.storeops import backend_of, open_store
        async with open_store(state, backend_of(state)) as s:
            return s.revision, {kv.key: (kv.mod_revision, kv.value) for kv in s.range("/")}
    return asyncio.run(go())


def test_migrate_to_etcd_and_back(tmp_path: Path, capsys) -> None:
    state = tmp_path / "c"
    rvs = asyncio.run(_fill(state / "store"))
    ClusterSettings(name="c", provider="simulated").save(state)

    class Args:
        store = "etcd"
    with pytest.raises(StoreSwitchRefused, match="kubetui store migrate --to etcd"):
        settings_from_args(Args(), state)

    assert main(["store", "migrate", "--to", "etcd", "--state-dir", str(state)]) == 0
    assert "migrated 29 keys from tinydb to etcd" in capsys.readouterr().out
    assert ClusterSettings.load(state).store == "etcd"
    revision, on_etcd = _read(state)
    assert set(on_etcd) == set(rvs)
    assert on_etcd["/registry/configmaps/default/c7"][1]["data"] == {"i": "7"}
    assert revision > max(rvs.values()), "the revision moved past the old store's: old resourceVersions relist"
    assert all(v["metadata"]["resourceVersion"] == str(rv) for rv, v in on_etcd.values())
    capsys.readouterr()
    assert main(["store", "history", "/registry/configmaps/default/c7", "-o", "json", "--state-dir", str(state)]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [(e["type"], e["revision"]) for e in hist["events"]] == [
        ("PUT", on_etcd["/registry/configmaps/default/c7"][0])], "etcd's history of the key, read through a member"

    assert main(["store", "migrate", "--to", "tinydb", "--state-dir", str(state)]) == 0
    assert ClusterSettings.load(state).store == "tinydb"
    revision_back, back = _read(state)
    assert revision_back == revision
    assert back == on_etcd, "to TinyDB every object keeps its resourceVersion"
    assert [p.name for p in state.iterdir() if p.name.startswith("store.before-migrate-")], "the old store is kept"
