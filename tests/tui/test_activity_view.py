"""The activity view (the reconcile log, live and by object), rollout marks on the map, and a
Deployment's rollout timeline (issue 19), with Pilot against the fake cluster's reconcile log."""

from __future__ import annotations

from textual.widgets import DataTable, Static

from kubetui.client.reconciles import APIWrite
from kubetui.tui.screens.activity import ActivityScreen
from kubetui.tui.screens.browser import BrowserScreen
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.screens.detail import DetailScreen
from tests.tui.fakes import pod
from tests.tui.test_app import settle, wait_for, wait_screen

RS = "web-7d4b9c8f6"


def publish(backend, controller: str, kind: str, name: str, *, owner: str | None = None,
            observed: tuple[str, ...] = (), decided: tuple[tuple[str, dict], ...] = (),
            writes: tuple[APIWrite, ...] = (), ms: float = 1.2) -> None:
    log = backend.reconcile_log
    rec = log.begin(controller, kind, "default", name)
    rec.owner = owner
    for o in observed:
        rec.observe(o)
    for text, data in decided:
        rec.decide(text, **data)
    rec.writes = list(writes)
    log.end(rec)
    rec.duration = ms / 1000       # fixed, for stable screens


def web_story(backend) -> None:
    """The log of web's rollout from web-5c4f8 (old) to web-7d4b9c8f6 (new), plus an unrelated record."""
    publish(backend, "deployment", "Deployment", "web", observed=("want 3, have 3 pods; maxSurge 1, maxUnavailable 0",),
            decided=((f"create rs {RS} with 1 replica",
                      {"action": "scale", "replicaSet": RS, "from": 0, "to": 1, "available": 3}),),
            writes=(APIWrite("create", "replicasets", "default", RS, None, None, "120"),))
    publish(backend, "replicaset", "ReplicaSet", RS, owner="Deployment/default/web",
            observed=("want 1, have 0 pods",), decided=(("create 1 pod", {"action": "create", "count": 1}),),
            writes=(APIWrite("create", "pods", "default", f"{RS}-abcde", None, None, "121"),))
    publish(backend, "scheduler", "Pod", f"{RS}-abcde", owner=f"ReplicaSet/default/{RS}",
            observed=("2 of 3 nodes feasible (3 evaluated)",),
            decided=((f"bind {RS}-abcde to node-1 (score 177)", {"action": "bind", "node": "node-1"}),),
            writes=(APIWrite("create", "pods", "default", f"{RS}-abcde", "binding"),))
    publish(backend, "deployment", "Deployment", "web",
            decided=(("scale down rs web-5c4f8 from 3 to 2",
                      {"action": "scale", "replicaSet": "web-5c4f8", "from": 3, "to": 2, "available": 3}),
                     (f"scale up rs {RS} from 1 to 2", {"action": "scale", "replicaSet": RS, "from": 1, "to": 2})),
            writes=(APIWrite("update", "replicasets", "default", "web-5c4f8", None, "118", "122"),
                    APIWrite("update", "replicasets", "default", RS, None, "120", "123")))
    publish(backend, "deployment", "Deployment", "web",      # a step that lost a race: not a step
            decided=((f"scale up rs {RS} from 2 to 3", {"action": "scale", "replicaSet": RS, "from": 2, "to": 3}),),
            writes=(APIWrite("update", "replicasets", "default", RS, None, "120", None, "Conflict: modified"),))
    publish(backend, "scheduler", "Pod", "crasher", decided=(("bind crasher to node-1", {}),))


async def _open_web_activity(app, pilot) -> ActivityScreen:
    await settle(app, pilot, "pods")
    browser = await wait_screen(pilot, BrowserScreen)
    browser.show_resource("deployments")
    await settle(app, pilot, "deployments")
    await pilot.press("a")
    return await wait_screen(pilot, ActivityScreen)


async def test_a_on_a_deployment_shows_its_controllers_replicasets_and_pods_decisions_live(make_app, backend):
    web_story(backend)
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await _open_web_activity(app, pilot)
        table = screen.query_one("#activity-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert [r[3] for r in rows] == ["Deployment/default/web", f"ReplicaSet/default/{RS}",
                                        f"Pod/default/{RS}-abcde", "Deployment/default/web", "Deployment/default/web"]
        assert [r[0] for r in rows] == ["1", "2", "3", "4", "5"]        # in order; crasher's (#6) is not here
        assert rows[3][6] == f"scale down rs web-5c4f8 from 3 to 2; scale up rs {RS} from 1 to 2"
        # The highlighted record in full: what it observed, decided, wrote.
        await pilot.press("up", "up", "up")
        detail = str(screen.query_one("#activity-detail", Static).render())
        assert f"decided:  create 1 pod" in detail and "observed: want 1, have 0 pods" in detail
        assert f"write:    create pods default/{RS}-abcde rv - -> 121" in detail
        assert "owner:    Deployment/default/web" in detail
        # Live: a new record of one of web's pods arrives while the view is open (the long poll wakes).
        publish(backend, "scheduler", "Pod", f"{RS}-fghij", owner=f"ReplicaSet/default/{RS}",
                decided=((f"bind {RS}-fghij to node-2", {}),))
        await wait_for(pilot, lambda: table.row_count == 6, tries=300)
        assert table.get_row_at(5)[3] == f"Pod/default/{RS}-fghij"
        # f: every object's records (crasher's too), and back.
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 7, tries=300)
        assert "Pod/default/crasher" in {table.get_row_at(i)[3] for i in range(table.row_count)}
        await pilot.press("f")
        await wait_for(pilot, lambda: table.row_count == 6, tries=300)
        await pilot.press("escape")
        await wait_screen(pilot, BrowserScreen)


async def test_the_palette_opens_the_whole_log_and_a_plain_client_says_it_has_none(make_app, backend):
    web_story(backend)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        await pilot.press("a")                       # nothing selected on the map: everything
        screen = await wait_screen(pilot, ActivityScreen)
        table = screen.query_one("#activity-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 6)
        assert screen.object is None
    from kubetui.tui.backend import ClientBackend
    plain = make_app(backend=ClientBackend(backend.client))
    async with plain.run_test(size=(120, 40)) as pilot:
        await wait_screen(pilot, ClusterMapScreen)
        plain.open_activity()
        screen = await wait_screen(pilot, ActivityScreen)
        await wait_for(pilot, lambda: "cannot reach kubetui's controlplane API group" in screen.note)
        await pilot.pause()
        assert screen.note in str(screen.query_one("#activity-filter", Static).render())


async def test_the_map_marks_pods_by_replicaset_while_a_deployment_rolls_out(make_app, backend):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods", "replicasets")
        assert not any(p.rs_marks for p in screen.panels.values())     # one ReplicaSet: no marks
        client = backend.client
        old = client.objects["replicasets"][f"default/{RS}"]
        old["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "1"}
        client.put("replicasets", old)
        new_rs = {"metadata": {"name": "web-5c4f8", "namespace": "default",
                               "labels": {"app": "web", "pod-template-hash": "5c4f8"},
                               "annotations": {"deployment.kubernetes.io/revision": "2"},
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                    "uid": "uid-web", "controller": True}]},
                  "spec": {"replicas": 1}}
        client.put("replicasets", new_rs)
        for name in ("web-7d4b9c8f6-abcde", "web-7d4b9c8f6-fghij"):
            p = client.objects["pods"][f"default/{name}"]
            p["metadata"]["labels"]["pod-template-hash"] = "7d4b9c8f6"
            client.put("pods", p)
        client.put("pods", pod("web-5c4f8-zzzzz", node_name="node-1", owner="web-5c4f8",
                               labels={"app": "web", "pod-template-hash": "5c4f8"}, state="ContainerCreating"))
        node1 = screen.panels["node-1"]
        await wait_for(pilot, lambda: len(node1.rs_marks) == 2, tries=300)
        assert node1.rs_marks["default/web-5c4f8-zzzzz"] == ("●", "5c4f8")
        assert node1.rs_marks["default/web-7d4b9c8f6-abcde"] == ("○", "7d4b9c8f6")
        drawn = node1.render().plain
        assert "●web-5c4f8…zzz" in drawn and "○web-7d4b9…cde" in drawn
        legend = str(screen.query_one("#legend", Static).render())
        assert "● new ReplicaSet (5c4f8)" in legend and "○ old (7d4b9)" in legend
        # The old pods go: one ReplicaSet's pods again, no marks.
        for name in ("web-7d4b9c8f6-abcde", "web-7d4b9c8f6-fghij", "web-7d4b9c8f6-klmno"):
            await client.delete("pods", name, "default")
        await wait_for(pilot, lambda: not node1.rs_marks, tries=300)
        assert "a rollout is under way" not in str(screen.query_one("#legend", Static).render())


async def test_a_deployments_rollout_tab_draws_its_scale_steps_against_the_bounds(make_app, backend):
    web_story(backend)
    app = make_app(start="browse")
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(app, pilot, "pods")
        browser = await wait_screen(pilot, BrowserScreen)
        browser.show_resource("deployments")
        await settle(app, pilot, "deployments", "events")
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        await pilot.press("6")
        body = detail.query_one("#rollout-body", Static)
        await wait_for(pilot, lambda: "#4" in str(body.render()), tries=400)
        text = str(body.render())
        assert ("Rollout of web: 3 replicas, maxSurge 1 → at most 4 pods, maxUnavailable 0 → at least 3 "
                "available") in text
        assert "(from the reconcile log;" in text
        lines = [line for line in text.splitlines() if line.strip().startswith("#")]
        assert [line.split()[2:4] for line in lines] == [[RS, "0→1"], ["web-5c4f8", "3→2"], [RS, "1→2"]]
        assert [line.split()[5] for line in lines] == ["4/4", "3/4", "4/4"]
        assert lines[0].endswith("4/4  3 available (≥ 3)") and lines[2].endswith("4/4")
        # Without a log, the Deployment's ScalingReplicaSet Events tell the steps.
        backend.reconcile_log = type(backend.reconcile_log)()
        detail.load_rollout()
        await wait_for(pilot, lambda: "Deployment's events" in str(body.render()), tries=400)
        assert f"{RS} 0→3" in str(body.render())


def test_snapshot_the_activity_of_a_deployment(snap_compare):
    from kubetui.clock import FakeClock
    from kubetui.tui.app import KubetuiApp
    from tests.tui.fakes import FIXED_NOW, FakeBackend

    backend = FakeBackend()
    web_story(backend)
    app = KubetuiApp(backend, clock=FakeClock(FIXED_NOW), start="browse")
    app.animation_level = "none"

    async def before(pilot) -> None:
        screen = await _open_web_activity(pilot.app, pilot)
        table = screen.query_one("#activity-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        await pilot.press("up", "up")
        await pilot.pause()
    assert snap_compare(app, terminal_size=(120, 40), run_before=before)
