"""The NetworkPolicy strategy: generation, CIDR warnings, and saying where policies are not enforced.

Upstream: ``pkg/registry/networking/networkpolicy/strategy.go``:
``metadata.generation`` is 1 on create and grows with every spec change, and
``WarningsOnCreate``/``WarningsOnUpdate`` answer ``Warning:`` headers for
CIDRs that are accepted but ambiguous (``10.0.0.1/8``).

The API server stores NetworkPolicies whether or not anything enforces them:
enforcement is the network plugin's job (Calico, Cilium, kube-router), and a
cluster whose plugin has none (kind's default kindnet before 0.24, flannel)
silently ignores them. kubetui does not stay silent: on Docker nodes its
node agent (``kubetui.netpol``) enforces them with iptables, but the local
provider's nodes run pods as plain processes on this machine's loopback, and
simulated nodes run nothing, so no packet there can be filtered. A policy
written while such nodes exist is stored, with a warning saying so (kubectl
prints it as ``Warning: ...``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubetui.api.networkpolicy import not_enforced_warning, unenforcing_nodes
from kubetui.api.resources import resource_for
from kubetui.api.validation.networkpolicy import cidr_warnings
from kubetui.apiserver.strategies.base import Obj, Strategy

if TYPE_CHECKING:
    from kubetui.apiserver.registry import Registry

class NetworkPolicyStrategy(Strategy):
    track_generation = True

    def _warn(self, registry: "Registry", obj: Obj) -> None:
        # (imported here: hooks imports the strategies through the custom-resource package)
        from kubetui.apiserver.hooks import warn
        for w in cidr_warnings(obj.get("spec") or {}):
            warn(w)
        nodes = [kv.value for kv in registry.store.range(resource_for("nodes").key(), copy=False)]
        names = unenforcing_nodes(nodes)
        if names:
            warn(not_enforced_warning(names))

    def validate(self, registry: "Registry", obj: Obj) -> list[dict[str, str]]:
        errs = super().validate(registry, obj)
        if not errs:
            self._warn(registry, obj)
        return errs

    def validate_update(self, registry: "Registry", new: Obj, old: Obj,
                        subresource: str | None) -> list[dict[str, str]]:
        errs = super().validate_update(registry, new, old, subresource)
        if not errs and new.get("spec") != old.get("spec"):
            self._warn(registry, new)
        return errs
