"""Pod chips: every STATUS kubectl prints has its own colour and legend entry, and every chip reads (WCAG AA).

The contrast is computed twice: from the chip table itself, and from what the
map really draws in each theme (the colours of the rendered segments), since
the theme can override a chip's colours (Textual's link style once did).
"""

from __future__ import annotations

import pytest
from textual.geometry import Region
from textual.widgets import Static

from kubetui.clock import FakeClock
from kubetui.tui.app import KubetuiApp
from kubetui.tui.chips import CHIPS, chip_legend, chip_state, contrast_ratio
from kubetui.tui.screens.cluster_map import ClusterMapScreen
from kubetui.tui.widgets.node_panel import NodePanel, chip_label
from tests.tui.fakes import FIXED_NOW, FakeBackend, FakeClient, node, pod, ts
from tests.tui.test_app import settle, wait_for, wait_screen

AA_TEXT = 4.5
THEMES = ("textual-dark", "textual-light")


def _waiting(reason: str, **kw) -> dict:
    p = pod(f"w-{reason.lower()}", state="Running", **kw)
    p["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": reason}}
    return p


def _terminated(reason: str) -> dict:
    p = pod(f"t-{reason.lower()}", state="Running")
    p["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": reason, "exitCode": 1}}
    return p


def _evicted() -> dict:
    p = pod("evicted", state="Running")
    p["status"].update(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")
    # no container state left to report: printPod keeps status.reason. (An empty
    # ``terminated: {}`` is still a terminated state upstream and prints ExitCode:0.)
    p["status"]["containerStatuses"][0]["state"] = {}
    return p


def _init(waiting: str | None = None) -> dict:
    p = pod("init", state="ContainerCreating")
    p["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]
    p["status"]["initContainerStatuses"] = [{"name": "setup", "state": (
        {"waiting": {"reason": waiting}} if waiting else {"running": {"startedAt": ts(5)}})}]
    return p


def _gated() -> dict:
    p = pod("gated", state="Pending")
    p["spec"]["schedulingGates"] = [{"name": "example.com/wait"}]
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]
    return p


def _lost() -> dict:
    p = pod("lost", state="Running")
    p["metadata"]["deletionTimestamp"] = ts(-30)
    p["status"]["reason"] = "NodeLost"
    return p


def _taint_evicted() -> dict:
    p = pod("evicting", state="Terminating")
    p["status"]["conditions"].append({"type": "DisruptionTarget", "status": "True",
                                      "reason": "DeletionByTaintManager"})
    return p


#: (pod, the chip it gets): every STATUS kubectl prints for a pod on its way or stuck
CASES = [
    (pod("p", state="Pending"), "Pending"),
    (_gated(), "SchedulingGated"),
    (pod("c", state="ContainerCreating"), "ContainerCreating"),
    (pod("pull", state="ContainerCreating"), "Pulling"),        # with a Pulling event and no Pulled since
    (_waiting("PodInitializing"), "PodInitializing"),
    (_init(), "Init"),
    (_init("CrashLoopBackOff"), "Init"),
    (pod("r", state="Running"), "Running"),
    (pod("ok", state="Ready"), "Ready"),
    (_terminated("Completed"), "Completed"),
    (pod("bye", state="Terminating"), "Terminating"),
    (_taint_evicted(), "Evicting"),
    (_waiting("ErrImagePull"), "ErrImagePull"),
    (_waiting("ImagePullBackOff"), "ImagePullBackOff"),
    (_waiting("CreateContainerConfigError"), "CreateContainerConfigError"),
    (_waiting("CreateContainerError"), "CreateContainerError"),
    (pod("crash", state="CrashLoopBackOff"), "CrashLoopBackOff"),
    (_terminated("Error"), "Error"),
    (pod("oom", state="OOMKilled"), "OOMKilled"),
    (_evicted(), "Evicted"),
    (_lost(), "Unknown"),
]


@pytest.mark.parametrize("p,chip", CASES, ids=[c for _, c in CASES])
def test_every_status_has_its_own_chip(p, chip):
    assert chip_state(p, pulling=chip == "Pulling") == chip


def test_chips_differ_and_image_pull_is_not_crash_red():
    backgrounds = [bg for _, bg, _ in CHIPS.values()]
    assert len(set(backgrounds)) == len(backgrounds), "two chip states share a colour"
    assert CHIPS["ImagePullBackOff"][1] != CHIPS["CrashLoopBackOff"][1]
    assert {c for _, c in CASES} == set(CHIPS), "a chip without a test case, or a case without a chip"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


@pytest.mark.parametrize("state", list(CHIPS))
def test_chip_colours_meet_wcag_aa(state):
    fg, bg, _ = CHIPS[state]
    assert contrast_ratio(_rgb(fg), _rgb(bg)) >= AA_TEXT, f"{state}: {fg} on {bg}"


def _all_states_client() -> FakeClient:
    client = FakeClient()
    for name in ("node-1", "node-2"):
        client.put("nodes", node(name))
    for i, (p, _) in enumerate(CASES):
        p = {**p, "metadata": {**p["metadata"], "name": f"{CASES[i][1].lower()[:10]}-{i}"}}
        if p.get("spec", {}).get("nodeName"):
            p["spec"]["nodeName"] = "node-1" if i % 2 else "node-2"
        client.put("pods", p)
        if CASES[i][1] == "Pulling":       # what the kubelet records when it starts a pull
            client.put("events", {"apiVersion": "v1", "kind": "Event",
                                  "metadata": {"name": f"{p['metadata']['name']}.pull", "namespace": "default"},
                                  "involvedObject": {"kind": "Pod", "namespace": "default",
                                                     "name": p["metadata"]["name"]},
                                  "reason": "Pulling", "message": 'Pulling image "nginx"', "type": "Normal",
                                  "lastTimestamp": "2023-11-14T22:10:00Z"})
    return client


@pytest.mark.parametrize("theme", THEMES)
async def test_rendered_chips_and_legend_meet_wcag_aa_in_both_themes(theme):
    """What the map really draws: every chip's text on its background, and the legend's, >= 4.5:1."""
    app = KubetuiApp(FakeBackend(_all_states_client()), clock=FakeClock(FIXED_NOW))
    app.theme = theme
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods", "events")
        await wait_for(pilot, lambda: len(screen.pod_chip) == len(CASES) and "Pulling" in screen.pod_chip.values())
        chip_texts = {f"{chip_label(p)}" for p in (app.bridge.objects("pods").values())}
        checked: list[tuple[str, float]] = []
        widgets = [*screen.query(NodePanel), screen.query_one("#legend", Static)]
        for widget in widgets:
            for strip in widget.render_lines(Region(0, 0, *widget.outer_size)):
                for seg in strip:
                    text = seg.text.strip(" ▸")
                    if not text or seg.style is None or seg.style.bgcolor is None:
                        continue
                    if widget.id != "legend" and text not in chip_texts:
                        continue
                    fg, bg = seg.style.color.get_truecolor(), seg.style.bgcolor.get_truecolor()
                    if seg.style.reverse:
                        fg, bg = bg, fg
                    checked.append((text, contrast_ratio(tuple(fg), tuple(bg))))
        seen = {t for t, _ in checked}
        assert chip_texts <= seen, f"chips not drawn: {chip_texts - seen}; drawn: {seen}"
        legend = str(screen.query_one("#legend", Static).render())
        for state in CHIPS:
            assert ("Init:…" if state == "Init" else state) in legend, f"no legend entry for {state}"
        poor = [(t, round(r, 2)) for t, r in checked if r < AA_TEXT]
        assert poor == [], f"{theme}: chips below WCAG AA 4.5:1: {poor}"


async def test_legend_lists_a_state_when_a_pod_enters_it(make_app, backend):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await wait_screen(pilot, ClusterMapScreen)
        await settle(app, pilot, "nodes", "pods")
        legend = screen.query_one("#legend", Static)
        assert "ImagePullBackOff" not in str(legend.render())
        backend.client.put("pods", _waiting("ImagePullBackOff"))
        await wait_for(pilot, lambda: "ImagePullBackOff" in str(legend.render()))


def test_legend_always_has_the_usual_states():
    assert {"Pending", "Ready", "CrashLoopBackOff"} <= set(chip_legend().plain.split())
