"""``kubetui bench api``'s load side: either load client creates and reads the pods it reports."""

from __future__ import annotations

import argparse

import pytest

from kubetui.bench.api import LOAD_CLIENTS, run_load, start_server
from kubetui.client.http import HTTPClient


@pytest.mark.parametrize("client", sorted(LOAD_CLIENTS))
async def test_load_clients_create_then_get_every_pod_they_count(tmp_path, client):
    server, store, kubeconfig = await start_server(tmp_path)
    try:
        args = argparse.Namespace(client=client, clients=4, creates=8, gets=12, watchers=2, events=2)
        result = await run_load(kubeconfig, args)
        assert (result["client"], result["creates"], result["gets"], result["fanout_events"]) == (client, 8, 12, 2)
        reader = HTTPClient.from_kubeconfig(kubeconfig)
        try:
            pods = (await reader.list("pods", "default"))["items"]
        finally:
            await reader.close()
        assert sorted(p["metadata"]["name"] for p in pods) == sorted(f"bench-{c}-{j}" for c in range(4) for j in range(2))
    finally:
        await server.stop()
        await store.close()
