"""``kubetui store dump|get|history`` on a store no cluster is running, and on one that is."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from kubetui.cli import main
from kubetui.store import Store

POD = "/registry/pods/default/web-1"


async def _fill(directory: Path) -> None:
    async with Store(directory) as s:
        kv = await s.create(POD, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1"}})
        await s.update(POD, {**kv.value, "spec": {"nodeName": "n1"}})
        await s.create("/registry/minions/n1", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})


# The CLI runs its own event loop (asyncio.run), so these tests are plain functions.
@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    asyncio.run(_fill(tmp_path / "store"))
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_dump_json_lists_every_key_with_revisions_and_values(state_dir: Path, capsys) -> None:
    rc, out, _ = run(capsys, "store", "dump", "-o", "json", "--state-dir", str(state_dir))
    assert rc == 0
    data = json.loads(out)
    assert data["revision"] == 3
    assert [(i["key"], i["modRevision"], i["version"]) for i in data["items"]] == [
        ("/registry/minions/n1", 3, 1), (POD, 2, 2)]
    assert data["items"][1]["value"]["metadata"]["resourceVersion"] == "2"


def test_dump_table_names_keys(state_dir: Path, capsys) -> None:
    rc, out, _ = run(capsys, "store", "dump", "--prefix", "/registry/pods/", "--state-dir", str(state_dir))
    assert rc == 0 and POD in out and "/registry/minions/n1" not in out


@pytest.mark.parametrize("fmt,parse", [("yaml", yaml.safe_load), ("json", json.loads)])
def test_get_prints_the_value(state_dir: Path, capsys, fmt: str, parse) -> None:
    rc, out, _ = run(capsys, "store", "get", POD, "-o", fmt, "--state-dir", str(state_dir))
    assert rc == 0
    assert parse(out) == {"apiVersion": "v1", "kind": "Pod", "spec": {"nodeName": "n1"},
                          "metadata": {"name": "web-1", "resourceVersion": "2"}}


def test_history_lists_the_revisions_of_a_key(state_dir: Path, capsys) -> None:
    rc, out, _ = run(capsys, "store", "history", POD, "-o", "json", "--state-dir", str(state_dir))
    assert rc == 0
    assert [(e["type"], e["revision"]) for e in json.loads(out)["events"]] == [("PUT", 1), ("PUT", 2)]


def test_missing_key_and_missing_store_fail_with_one_line(state_dir: Path, capsys) -> None:
    rc, _, err = run(capsys, "store", "get", "/registry/pods/default/nope", "--state-dir", str(state_dir))
    assert rc == 1 and "not found" in err
    rc, _, err = run(capsys, "store", "dump", "--state-dir", str(state_dir / "elsewhere"))
    assert rc == 1 and "no store" in err


def test_reads_a_store_another_process_holds_open_without_writing(state_dir: Path, capsys) -> None:
    loop = asyncio.new_event_loop()  # the "cluster": holds the store open (and its lock)
    live = Store(state_dir / "store")
    try:
        loop.run_until_complete(live.open())
        loop.run_until_complete(live.create("/registry/pods/default/web-2", {"metadata": {"name": "web-2"}}))
        before = {p.name: p.read_bytes() for p in (state_dir / "store").iterdir()}
        rc, out, _ = run(capsys, "store", "dump", "-o", "json", "--state-dir", str(state_dir))
        assert rc == 0 and json.loads(out)["revision"] == 4
        assert {p.name: p.read_bytes() for p in (state_dir / "store").iterdir()} == before
    finally:
        loop.run_until_complete(live.close())
        loop.close()
