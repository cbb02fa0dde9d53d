"""The serviceaccount and root-ca-cert-publisher controllers: what every namespace is given.

Upstream: ``pkg/controller/serviceaccount/serviceaccounts_controller.go``
(``ServiceAccountsController``: the ``default`` ServiceAccount exists in every
active namespace; delete it and it comes back) and
``pkg/controller/certificates/rootcacertpublisher/publisher.go`` (the
``kube-root-ca.crt`` ConfigMap in every namespace holds the cluster CA under
``ca.crt``; an edit is put back). A pod's ``kube-api-access`` volume reads
both: it runs as a ServiceAccount, and its client trusts the API server
through ``ca.crt``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api import errors
from kubetui.controllers.base import Controller

Obj = dict[str, Any]
DEFAULT_SA = "default"
ROOT_CA = "kube-root-ca.crt"
DESCRIPTION = "kubernetes.io/description"
# upstream's annotation on the ConfigMap
CA_DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
                  "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
                  "guaranteed across distributions of Kubernetes clusters.")


def _active(ns: Obj | None) -> bool:
    return ns is not None and not ns["metadata"].get("deletionTimestamp") and \
        (ns.get("status") or {}).get("phase", "Active") != "Terminating"


def root_ca_action(ns: Obj | None, cm: Obj | None, ca_pem: str) -> str | None:
    """``create``, ``update`` or None (pure): does namespace ``ns`` need its ``kube-root-ca.crt`` fixed?"""
    if not _active(ns):
        return None
    if cm is None:
        return "create"
    if (cm.get("data") or {}) != {"ca.crt": ca_pem} or \
            (cm["metadata"].get("annotations") or {}).get(DESCRIPTION) != CA_DESCRIPTION:
        return "update"
    return None


class ServiceAccountsController(Controller):
    """Every active namespace has a ``default`` ServiceAccount."""

    name = "serviceaccount"
    kind = "Namespace"
    component = "serviceaccount-controller"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.namespaces = self.factory.informer("namespaces")
        self.accounts = self.factory.informer("serviceaccounts")
        self.namespaces.add_handler(self._ns, lambda old, new: self._ns(new), lambda o: None)
        self.accounts.add_handler(lambda o: None, lambda old, new: None, self._sa_deleted)

    def _ns(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _sa_deleted(self, sa: Obj) -> None:
        if sa["metadata"]["name"] == DEFAULT_SA:
            self.queue.add(sa["metadata"].get("namespace", ""))

    async def reconcile(self, key: Any) -> float | None:
        if not _active(self.namespaces.get(key)) or self.accounts.get(f"{key}/{DEFAULT_SA}") is not None:
            return None
        try:
            await self.client.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                         "metadata": {"name": DEFAULT_SA}}, key)
        except errors.AlreadyExists:
            return None
        except errors.Forbidden:
            return None  # the namespace is terminating
        return None


class RootCACertPublisher(Controller):
    """Every active namespace has ``kube-root-ca.crt`` holding the cluster CA."""

    name = "root-ca-cert-publisher"
    kind = "Namespace"
    component = "root-ca-cert-publisher"

    def __init__(self, *args: Any, ca_pem: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.ca_pem = ca_pem
        self.namespaces = self.factory.informer("namespaces")
        self.configmaps = self.factory.informer("configmaps")
        self.namespaces.add_handler(self._ns, lambda old, new: self._ns(new), lambda o: None)
        self.configmaps.add_handler(lambda o: None, lambda old, new: self._cm(new), self._cm)

    @classmethod
    def extra_args(cls, manager: Any) -> dict[str, Any]:
        return {"ca_pem": getattr(manager, "root_ca_pem", None)}

    def _ns(self, ns: Obj) -> None:
        self.queue.add(ns["metadata"]["name"])

    def _cm(self, cm: Obj) -> None:
        if cm["metadata"]["name"] == ROOT_CA:
            self.queue.add(cm["metadata"].get("namespace", ""))

    async def reconcile(self, key: Any) -> float | None:
        if not self.ca_pem:
            return None  # a control plane without a CA (plain-http test servers) has nothing to publish
        cm = self.configmaps.get(f"{key}/{ROOT_CA}")
        action = root_ca_action(self.namespaces.get(key), cm, self.ca_pem)
        try:
            if action == "create":
                await self.client.create("configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA, "annotations": {DESCRIPTION: CA_DESCRIPTION}},
                    "data": {"ca.crt": self.ca_pem}}, key)
            elif action == "update":
                meta = {**cm["metadata"], "annotations": {**(cm["metadata"].get("annotations") or {}),
                                                          DESCRIPTION: CA_DESCRIPTION}}
                await self.client.update("configmaps", {**cm, "metadata": meta, "data": {"ca.crt": self.ca_pem}},
                                         key)
        except (errors.AlreadyExists, errors.Conflict):
            return 0.2
        except (errors.Forbidden, errors.NotFound):
            return None  # the namespace is going away
        return None
