"""Progress lives outside every cluster: it survives the cluster's state dir, names its cluster, moves old logs."""

from __future__ import annotations

import json
import shutil

from kubetui.lessons.progress import ProgressStore, cluster_id, progress_root


def test_progress_outlives_the_cluster_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBETUI_PROGRESS_DIR", str(tmp_path / "progress"))
    state = tmp_path / "cluster-a"
    store = ProgressStore(state, "ada")
    store.append("deployments", "lesson_start")
    store.append("deployments", "step_start", "scale", index=0)
    store.append("deployments", "step_pass", "scale")
    store.save_position("deployments", 1, "in progress", ["scale"])
    assert not (state / "lessons").exists()  # nothing of it is in the cluster's folder
    shutil.rmtree(state, ignore_errors=True)  # kubetui down --purge
    again = ProgressStore(state, "ada")
    assert again.replay("deployments").step("scale").passed
    assert again.positions()["deployments"]["passed"] == ["scale"]
    assert progress_root() == tmp_path / "progress"


def test_each_cluster_sees_its_own_position_and_exports_may_see_all(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBETUI_PROGRESS_DIR", str(tmp_path / "progress"))
    a, b = ProgressStore(tmp_path / "a", "ada"), ProgressStore(tmp_path / "b", "ada")
    a.append("pods", "step_start", "one", index=0)
    a.append("pods", "step_pass", "one")
    b.append("pods", "step_start", "one", index=0)
    assert a.replay("pods").step("one").passed and not b.replay("pods").step("one").passed
    assert b.replay("pods", all_clusters=True).step("one").passed
    assert a.clusters() == {cluster_id(tmp_path / "a"), cluster_id(tmp_path / "b")}
    line = json.loads((tmp_path / "progress" / "ada" / "events.jsonl").read_text().splitlines()[0])
    assert line["cluster"] == cluster_id(tmp_path / "a") and line["learner"] == "ada"


def test_a_log_in_the_old_place_is_moved_once(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBETUI_PROGRESS_DIR", str(tmp_path / "progress"))
    state = tmp_path / "old"
    legacy = state / "lessons" / "ada"
    legacy.mkdir(parents=True)
    (legacy / "events.jsonl").write_text(json.dumps({"t": 1, "learner": "ada", "lesson": "pods", "step": "one",
                                                     "event": "step_pass"}) + "\n")
    store = ProgressStore(state, "ada")
    assert store.replay("pods").step("one").passed
    assert not (legacy / "events.jsonl").exists() and (legacy / "events.jsonl.moved").exists()
    ProgressStore(state, "ada")  # opening again does not copy twice
    assert len((tmp_path / "progress" / "ada" / "events.jsonl").read_text().splitlines()) == 1
