"""Shared fixtures for the registry tests: an in-memory store, a fake clock, a bootstrapped registry."""

import pytest

from kubetui.api.resources import resource_for
from kubetui.apiserver.registry import Registry
from kubetui.clock import FakeClock
from kubetui.store import Store

PODS = resource_for("pods")
DEPLOYS = resource_for("deployments")
SERVICES = resource_for("services")
NAMESPACES = resource_for("namespaces")
CONFIGMAPS = resource_for("configmaps")
NODES = resource_for("nodes")
EVENTS = resource_for("events")


def pod(name="web", labels=None, **spec):
    return {"metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}], **spec}}


def deployment(name="web", replicas=2):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}}}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def store(clock):
    s = Store(None, clock=clock)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def registry(store, clock):
    r = Registry(store, clock=clock, service_cidr="10.96.0.0/24", node_port_range=(30000, 30009),
                 bookmark_interval=5.0)
    await r.bootstrap()
    return r
