"""Jobs and CronJobs: the generated selector, generation tracking, status owned by the controllers.

Upstream: ``pkg/registry/batch/job/strategy.go`` (``PrepareForCreate`` runs
``generateSelectorIfNeeded``: unless ``manualSelector`` is true, the pod
template gets ``batch.kubernetes.io/controller-uid`` and
``batch.kubernetes.io/job-name`` labels, plus their legacy unprefixed twins,
and the selector selects the uid; status is cleared and generation set to 1)
and ``pkg/registry/batch/cronjob/strategy.go``. Both serve ``status``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.api.defaults import copy_template_labels
from kubetui.api.validation.batch import (
    CONTROLLER_UID_LABEL, JOB_NAME_LABEL, LEGACY_CONTROLLER_UID_LABEL, LEGACY_JOB_NAME_LABEL,
)
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry


def generate_selector(job: Obj) -> None:
    """``generateSelector``: labels unique to this Job on its template, and a selector on its uid.

    Labels the user already set are left alone; validation then refuses
    them if they are not the generated values.
    """
    meta = job["metadata"]
    spec = job.setdefault("spec", {})
    template = spec.setdefault("template", {})
    tmeta = template.setdefault("metadata", {}) if isinstance(template, dict) else {}
    labels = tmeta.setdefault("labels", {}) if isinstance(tmeta, dict) else {}
    if not isinstance(labels, dict):
        return
    for label in (LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL):
        labels.setdefault(label, meta.get("name", ""))
    for label in (LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL):
        labels.setdefault(label, meta.get("uid", ""))
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = spec["selector"] = {}
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = selector["matchLabels"] = {}
    match.setdefault(CONTROLLER_UID_LABEL, meta.get("uid", ""))


class JobStrategy(Strategy):
    track_generation = True
    # batch/v1 keeps its old default: a DELETE without propagationPolicy orphans the pods
    # (kubectl always sends Background; API clients that send nothing keep the pods).
    default_propagation_policy = "Orphan"

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("manualSelector") is not True:
            generate_selector(obj)
        # Upstream defaults again when the object is read back from storage, so a Job
        # without labels of its own ends up with its template's, generated ones included.
        copy_template_labels(obj)
        obj["status"] = {}


class CronJobStrategy(Strategy):
    track_generation = True

    def prepare_for_create(self, registry: "Registry", obj: Obj) -> None:
        super().prepare_for_create(registry, obj)
        obj["status"] = {}
