"""The worked examples in the scheduler's docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "kubetui.scheduler.diagnosis",
    "kubetui.scheduler.framework",
    "kubetui.client.decisions",          # why this node (was in scheduler.explain)
    "kubetui.scheduler.plugins.taint_toleration",
    "kubetui.api.nodeaffinity",          # NodeAffinity's matching, shared with the PV controller
    "kubetui.scheduler.plugins.node_ports",
    "kubetui.scheduler.plugins.volume_binding",
    "kubetui.scheduler.plugins.inter_pod_affinity",
    "kubetui.scheduler.plugins.pod_topology_spread",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
