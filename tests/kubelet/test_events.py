"""The kubelet's EventRecorder: one sender, in order, never in the pod's way."""

from __future__ import annotations

import asyncio

from kubetui.clock import FakeClock
from kubetui.kubelet.apiclient import APIError
from kubetui.kubelet import events
from kubetui.kubelet.events import NORMAL, WARNING, EventRecorder

POD = {"metadata": {"name": "web", "namespace": "default", "uid": "u1"}}


class FakeAPI:
    """Records calls; each call takes a turn of the loop; a path in ``fail`` answers 500 once."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self.in_flight = self.most_in_flight = 0
        self.fail: set[str] = set()

    async def _call(self, verb: str, path: str, body: dict) -> dict:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)
            if path in self.fail:
                self.fail.discard(path)
                raise APIError(500, "InternalError", "boom")
            self.calls.append((verb, path, body))
            return body
        finally:
            self.in_flight -= 1

    foreground = 0      # APIClient's count of requests something waits for

    async def create(self, path: str, obj: dict, background: bool = False) -> dict:
        assert background
        return await self._call("POST", path, obj)

    async def patch(self, path: str, patch: dict, *_a, background: bool = False) -> dict:
        assert background
        return await self._call("PATCH", path, patch)


async def test_events_are_sent_one_at_a_time_in_order_and_repeats_bump_the_count():
    api = FakeAPI()
    rec = EventRecorder(api, "node-1", FakeClock())
    rec.pod_event(POD, NORMAL, "Pulled", "already present", "main")
    rec.pod_event(POD, NORMAL, "Created", "Created container: main", "main")
    rec.pod_event(POD, WARNING, "BackOff", "Back-off restarting", "main")
    rec.pod_event(POD, WARNING, "BackOff", "Back-off restarting", "main")
    assert api.calls == []                       # nothing sent yet: the pod did not wait
    await rec.flush()
    assert [(c[0], c[2].get("reason")) for c in api.calls] == [
        ("POST", "Pulled"), ("POST", "Created"), ("POST", "BackOff"), ("PATCH", None)]
    backoff = api.calls[2][2]
    assert api.calls[3][1] == f"/api/v1/namespaces/default/events/{backoff['metadata']['name']}"
    assert api.calls[3][2]["count"] == 2
    assert backoff["involvedObject"]["fieldPath"] == "spec.containers{main}"
    assert api.most_in_flight == 1


async def test_a_failed_event_does_not_stop_the_ones_after_it():
    api = FakeAPI()
    api.fail.add("/api/v1/namespaces/default/events")
    rec = EventRecorder(api, "node-1", FakeClock())
    rec.pod_event(POD, NORMAL, "Pulled", "already present", "main")
    rec.pod_event(POD, NORMAL, "Started", "Started container main", "main")
    await rec.flush()
    assert [c[2]["reason"] for c in api.calls] == ["Started"]
    rec.pod_event(POD, NORMAL, "Killing", "Stopping container main", "main")   # a new sender starts
    await rec.flush()
    assert [c[2]["reason"] for c in api.calls] == ["Started", "Killing"]


async def test_events_wait_while_the_kubelet_has_requests_under_way(monkeypatch):
    monkeypatch.setattr(events, "DEFER_POLL_SECONDS", 0.001)
    api = FakeAPI()
    api.foreground = 2                      # e.g. two pods patching their status
    rec = EventRecorder(api, "node-1", FakeClock())
    rec.pod_event(POD, NORMAL, "Started", "Started container main", "main")
    for _ in range(20):
        await asyncio.sleep(0.001)
    assert api.calls == []
    api.foreground = 0
    await rec.flush()
    assert [c[2]["reason"] for c in api.calls] == ["Started"]


async def test_events_wait_no_longer_than_max_defer(monkeypatch):
    monkeypatch.setattr(events, "MAX_DEFER_SECONDS", 0.0)
    api = FakeAPI()
    api.foreground = 1                      # never drops: a kubelet that is always busy
    rec = EventRecorder(api, "node-1", FakeClock())
    rec.pod_event(POD, NORMAL, "Started", "Started container main", "main")
    await asyncio.wait_for(rec.flush(), 5)
    assert [c[2]["reason"] for c in api.calls] == ["Started"]



async def test_event_names_sort_in_the_order_they_were_recorded():
    """client-go names an Event ``<object>.<UnixNano in hex>``: listed by name (as the store lists them),
    events of one second keep their order, so describe shows Pulling before Pulled."""
    api = FakeAPI()
    rec = EventRecorder(api, "node-1", FakeClock())
    for reason in ("Pulling", "Pulled", "Created", "Started", "Killing", "BackOff"):
        rec.pod_event(POD, NORMAL, reason, reason.lower(), "main")
    await rec.flush()
    created = [(body["metadata"]["name"], body["reason"]) for verb, _p, body in api.calls if verb == "POST"]
    assert [r for _n, r in sorted(created)] == ["Pulling", "Pulled", "Created", "Started", "Killing", "BackOff"]
    assert all(n.startswith("web.") for n, _r in created)


async def test_an_ephemeral_containers_events_point_at_it():
    # upstream's fieldPath for what kubectl debug added: spec.ephemeralContainers{NAME}
    api = FakeAPI()
    rec = EventRecorder(api, "node-1", FakeClock())
    pod = {**POD, "spec": {"containers": [{"name": "main"}], "ephemeralContainers": [{"name": "debugger"}]}}
    rec.pod_event(pod, NORMAL, "Started", "Started container debugger", "debugger")
    rec.pod_event(pod, NORMAL, "Started", "Started container main", "main")
    await rec.flush()
    assert [c[2]["involvedObject"]["fieldPath"] for c in api.calls] == [
        "spec.ephemeralContainers{debugger}", "spec.containers{main}"]
