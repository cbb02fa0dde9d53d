"""The NetworkPolicy printer: ``kubectl get networkpolicies`` shows NAME, POD-SELECTOR, AGE.

Upstream: ``printNetworkPolicy`` in ``pkg/printers/internalversion/printers.go``
(``metav1.FormatLabelSelector`` of ``spec.podSelector``: an empty selector,
which selects every pod of the namespace, prints as ``<none>``).
"""

from __future__ import annotations

from typing import Any

from kubetui.api.printers.common import AGE_COL, NAME_COL, age, col, format_label_selector

POD_SELECTOR_DESC = (
    "podSelector selects the pods to which this NetworkPolicy object applies. The array of rules is applied "
    "to any pods selected by this field. An empty selector matches all pods in the policy's namespace. "
    "Multiple network policies can select the same set of pods. In this case, the ingress rules for each "
    "are combined additively. This field is optional. If it is not specified, it defaults to an empty "
    "selector.")

NETWORKPOLICY_COLUMNS = [NAME_COL, col("Pod-Selector", desc=POD_SELECTOR_DESC), AGE_COL]


def networkpolicy_row(np: dict, now: float) -> list[Any]:
    return [np["metadata"].get("name", ""), format_label_selector((np.get("spec") or {}).get("podSelector")),
            age(np, now)]
