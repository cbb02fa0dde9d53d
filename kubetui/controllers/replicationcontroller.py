"""The ReplicationController manager: a ReplicaSet controller for the older ``v1`` kind.

Upstream: ``pkg/controller/replication/replication_controller.go``
(``NewReplicationManager``) builds the very same ``ReplicaSetController``
over an RC informer adapted to look like ReplicaSets
(``replication_controller_utils.go``, the conversion in
``pkg/controller/replication/conversion.go``). The one real difference a
learner can see is the selector: an RC's ``spec.selector`` is a plain
label map (``app: nginx``, equality only), a ReplicaSet's a LabelSelector
with ``matchLabels``/``matchExpressions``. Pods it creates are owned by
``v1``/``ReplicationController`` and its Events come from
``replication-controller``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.selectors import LabelSelector, selector_from_set
from kubetui.controllers.replicaset import ReplicaSetController

Obj = dict[str, Any]


class ReplicationControllerController(ReplicaSetController):
    name = "replicationcontroller"
    kind = "ReplicationController"
    component = "replication-controller"
    resource = "replicationcontrollers"
    owner_api_version = "v1"
    owner_kind = "ReplicationController"

    def selector(self, rc: Obj) -> Any:
        """``labels.SelectorFromSet(rc.Spec.Selector)``; an empty selector matches nothing here."""
        labels = (rc.get("spec") or {}).get("selector")
        if not isinstance(labels, dict) or not labels:
            return LabelSelector.nothing()
        return selector_from_set(labels)
