"""The kubelet's token manager: a TokenRequest bound to the pod, refreshed at 80 % of the token's life."""

from __future__ import annotations

import datetime as dt

import pytest

from kubetui.clock import FakeClock
from kubetui.kubelet import projection
from kubetui.kubelet.tokens import TokenManager, needs_refresh

POD = {"metadata": {"name": "web", "namespace": "team", "uid": "u1"}, "spec": {"serviceAccountName": "robot"}}


class FakeAPI:
    def __init__(self, clock):
        self.clock, self.calls = clock, []

    async def create(self, path, body):
        self.calls.append((path, body))
        exp = dt.datetime.fromtimestamp(self.clock.time() + body["spec"]["expirationSeconds"], dt.timezone.utc)
        return {"status": {"token": f"tok{len(self.calls)}", "expirationTimestamp": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}}


@pytest.mark.parametrize("now, want", [(0, False), (2879, False), (2880, True), (3600, True), (9999, True)])
def test_needs_refresh_at_80_percent(now, want):
    assert needs_refresh(0, 3600, now) is want


async def test_token_requested_bound_to_the_pod_and_refreshed():
    clock = FakeClock(start=1_000_000)
    api = FakeAPI(clock)
    tm = TokenManager(api, clock)
    assert await tm.get(POD, "", 3607) == {"token": "tok1"}
    path, body = api.calls[0]
    assert path == "/api/v1/namespaces/team/serviceaccounts/robot/token"
    assert body["spec"] == {"audiences": [], "expirationSeconds": 3607,
                            "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1"}}
    await clock.advance(0.79 * 3607)
    assert await tm.get(POD, "", 3607) == {"token": "tok1"} and len(api.calls) == 1
    await clock.advance(0.02 * 3607)
    assert await tm.get(POD, "", 3607) == {"token": "tok2"}


def test_projected_token_file_gets_the_volume_mode():
    vol = {"projected": {"defaultMode": 0o440, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}}
    assert projection.api_data_sources(vol) == [(projection.SA_TOKEN, "|3607")]
    files = projection.volume_payload(vol, POD, {(projection.SA_TOKEN, "|3607"): {"token": "abc"}}, "", {})
    assert (files["token"].data, files["token"].mode) == (b"abc", 0o440)
    assert files["namespace"].data == b"team"


async def test_forgetting_a_pod_drops_its_tokens():
    clock = FakeClock(start=1_000_000)
    api = FakeAPI(clock)
    tm = TokenManager(api, clock)
    await tm.get(POD, "", 3607)
    tm.forget_pod("u1")
    assert await tm.get(POD, "", 3607) == {"token": "tok2"}
