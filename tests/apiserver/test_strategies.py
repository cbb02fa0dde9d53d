"""The generic registry calls each kind's strategy hooks in upstream's order, and knows no kind itself.

Upstream: ``generic/registry/store.go`` (``Create``: BeforeCreate ->
BeginCreate -> validate -> storage -> finish -> AfterCreate; ``Update``;
``Delete``: CheckGracefulDelete -> storage -> AfterDelete).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kubetui.api import errors
from kubetui.api.resources import RESOURCES, resource_for
from kubetui.apiserver.strategies.base import Strategy
from tests.apiserver.conftest_registry import clock, registry, store  # noqa: F401 - fixtures

CM = resource_for("configmaps")


class Recording(Strategy):
    """A ConfigMap strategy that logs every hook the registry calls."""

    def __init__(self, resource, log, *, invalid=False):  # type: ignore[no-untyped-def]
        super().__init__(resource)
        self.log, self.invalid = log, invalid

    def prepare_for_create(self, registry, obj):  # type: ignore[no-untyped-def]
        self.log.append("prepare_for_create")
        super().prepare_for_create(registry, obj)

    def begin_create(self, registry, obj):  # type: ignore[no-untyped-def]
        self.log.append("begin_create")
        return lambda ok: self.log.append(f"finish({ok})")

    def validate(self, registry, obj):  # type: ignore[no-untyped-def]
        self.log.append("validate")
        return [{"field": "data", "message": "Invalid value: nope", "reason": "FieldValueInvalid"}] \
            if self.invalid else []

    def canonicalize(self, obj):  # type: ignore[no-untyped-def]
        self.log.append("canonicalize")

    async def after_create(self, registry, obj):  # type: ignore[no-untyped-def]
        self.log.append("after_create")

    def prepare_for_update(self, registry, new, old):  # type: ignore[no-untyped-def]
        self.log.append("prepare_for_update")

    def begin_update(self, registry, new, old, subresource):  # type: ignore[no-untyped-def]
        self.log.append("begin_update")
        return lambda ok: self.log.append(f"finish({ok})")

    def validate_update(self, registry, new, old, subresource):  # type: ignore[no-untyped-def]
        self.log.append("validate_update")
        return []

    def check_delete(self, registry, namespace, name):  # type: ignore[no-untyped-def]
        self.log.append("check_delete")

    def check_graceful_delete(self, obj, requested):  # type: ignore[no-untyped-def]
        self.log.append("check_graceful_delete")
        return 0

    def after_delete(self, registry, obj):  # type: ignore[no-untyped-def]
        self.log.append("after_delete")


class RecordingAdmission:
    def __init__(self, log):  # type: ignore[no-untyped-def]
        self.log = log

    def admit_create(self, registry, resource, namespace, obj):  # type: ignore[no-untyped-def]
        self.log.append("admit")

    def admit_update(self, resource, new, old):  # type: ignore[no-untyped-def]
        pass


async def test_hooks_run_in_upstream_order(registry):  # noqa: F811
    log: list[str] = []
    registry.strategies[CM.group_resource] = Recording(CM, log)
    registry.admission.append(RecordingAdmission(log))
    await registry.create(CM, "default", {"metadata": {"name": "a"}, "data": {"k": "v"}})
    assert log == ["admit", "prepare_for_create", "begin_create", "validate", "canonicalize", "finish(True)",
                   "after_create"]
    log.clear()
    await registry.update(CM, "default", "a", {"metadata": {"name": "a"}, "data": {"k": "w"}})
    assert log == ["prepare_for_update", "begin_update", "validate_update", "canonicalize", "finish(True)"]
    log.clear()
    await registry.delete(CM, "default", "a")
    assert log == ["check_delete", "check_graceful_delete", "after_delete"]


async def test_begin_create_is_reverted_when_validation_fails_or_dry_run(registry):  # noqa: F811
    log: list[str] = []
    registry.strategies[CM.group_resource] = Recording(CM, log, invalid=True)
    with pytest.raises(errors.StatusError) as e:
        await registry.create(CM, "default", {"metadata": {"name": "b"}})
    assert e.value.code == 422
    assert log[-1] == "finish(False)" and "after_create" not in log
    assert registry.store.get(CM.key("b", "default")) is None
    log.clear()
    registry.strategies[CM.group_resource] = Recording(CM, log)
    await registry.create(CM, "default", {"metadata": {"name": "c"}}, dry_run=True)
    assert "finish(False)" in log and "after_create" not in log


async def test_a_service_allocation_is_given_back_when_the_create_fails(registry):  # noqa: F811
    """The Service strategy's BeginCreate takes the ClusterIP; a failed create reverts it."""
    svc = resource_for("services")
    bad = {"metadata": {"name": "bad"}, "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80, "protocol": "XTP"}]}}
    with pytest.raises(errors.StatusError):
        await registry.create(svc, "default", bad)
    ok = {"metadata": {"name": "good"}, "spec": {"clusterIP": "10.96.0.50", "ports": [{"port": 80}]}}
    assert (await registry.create(svc, "default", ok))["spec"]["clusterIP"] == "10.96.0.50"


def test_the_generic_registry_names_no_kind():
    """registry.py is upstream's generic store: every per-kind branch lives in a strategy.

    The one kind it may name is Namespace, for NamespaceLifecycle (every namespaced
    object's create checks its namespace).
    """
    src = Path(__file__).parents[2] / "kubetui" / "apiserver" / "registry.py"
    names = {r.kind for r in RESOURCES} | {r.plural for r in RESOURCES} - {"namespaces"}
    strings = {n.value for n in ast.walk(ast.parse(src.read_text())) if isinstance(n, ast.Constant)
               and isinstance(n.value, str)}
    assert names & strings == set()
