"""EventRecorder: Events named and shaped as client-go writes them, aggregated like EventCorrelator."""

from kubetui.apiserver.inprocess import InProcessClient
from kubetui.client.record import EventRecorder
from tests.apiserver.conftest_registry import PODS, clock, pod, registry, store  # noqa: F401 - fixtures


async def test_record_writes_a_core_v1_event(registry, clock):
    p = await registry.create(PODS, "default", pod())
    rec = EventRecorder(InProcessClient(registry), "default-scheduler", clock=clock)
    ev = await rec.record(p, "Normal", "Scheduled", "Successfully assigned default/web to n1")
    name, _, suffix = ev["metadata"]["name"].partition(".")
    assert name == "web" and len(suffix) == 16 and int(suffix, 16)
    assert ev["involvedObject"] == {"kind": "Pod", "namespace": "default", "name": "web",
                                    "uid": p["metadata"]["uid"], "apiVersion": "v1",
                                    "resourceVersion": p["metadata"]["resourceVersion"]}
    assert (ev["type"], ev["reason"], ev["count"]) == ("Normal", "Scheduled", 1)
    assert ev["source"] == {"component": "default-scheduler"}
    assert ev["firstTimestamp"] == ev["lastTimestamp"] == "2023-11-14T22:13:20Z"
    # kubectl describe finds it by field selector
    found = await registry.list(registry_events(), "default",
                                field_selector=f"involvedObject.uid={p['metadata']['uid']},involvedObject.name=web")
    assert [e["reason"] for e in found["items"]] == ["Scheduled"]


def registry_events():
    from kubetui.api.resources import resource_for
    return resource_for("events")


async def test_repeated_events_are_aggregated_within_ten_minutes(registry, clock):
    p = await registry.create(PODS, "default", pod())
    rec = EventRecorder(InProcessClient(registry), "kubelet", host="n1", clock=clock)
    first = await rec.record(p, "Warning", "BackOff", "Back-off restarting failed container", field_path="spec.containers{c}")
    assert first["involvedObject"]["fieldPath"] == "spec.containers{c}"
    assert first["source"] == {"component": "kubelet", "host": "n1"}
    await clock.advance(60)
    again = await rec.record(p, "Warning", "BackOff", "Back-off restarting failed container", field_path="spec.containers{c}")
    assert again["metadata"]["name"] == first["metadata"]["name"]
    assert again["count"] == 2 and again["lastTimestamp"] == "2023-11-14T22:14:20Z"
    assert again["firstTimestamp"] == first["firstTimestamp"]
    await clock.advance(601)
    later = await rec.record(p, "Warning", "BackOff", "Back-off restarting failed container", field_path="spec.containers{c}")
    assert later["metadata"]["name"] != first["metadata"]["name"] and later["count"] == 1
    other = await rec.record(p, "Normal", "Pulled", "pulled")
    assert other["count"] == 1


async def test_events_for_cluster_scoped_objects_go_to_default(registry, clock):
    rec = EventRecorder(InProcessClient(registry), "node-controller", clock=clock)
    ev = await rec.record({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u"}},
                          "Normal", "RegisteredNode", "Node n1 event: Registered Node n1 in Controller")
    assert ev["metadata"]["namespace"] == "default"
    assert "namespace" not in ev["involvedObject"]


async def test_emit_and_flush(registry, clock):
    p = await registry.create(PODS, "default", pod())
    rec = EventRecorder(InProcessClient(registry), "kubelet", clock=clock)
    rec.emit(p, "Normal", "Started", "Started container c")
    await rec.flush()
    assert len((await registry.list(registry_events(), "default"))["items"]) == 1
