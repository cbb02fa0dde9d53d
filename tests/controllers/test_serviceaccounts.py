"""The serviceaccount and root-ca-cert-publisher controllers: what every namespace is given."""

from __future__ import annotations

import pytest
from ctrl_helpers import settle

from kubetui.controllers.serviceaccounts import CA_DESCRIPTION, root_ca_action

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
NS = {"metadata": {"name": "team"}, "status": {"phase": "Active"}}
GOOD = {"metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": CA_DESCRIPTION}},
        "data": {"ca.crt": CA}}


@pytest.mark.parametrize("ns, cm, want", [
    (NS, None, "create"),
    (NS, GOOD, None),
    (NS, {**GOOD, "data": {"ca.crt": "edited"}}, "update"),
    (NS, {**GOOD, "data": {"ca.crt": CA, "extra": "x"}}, "update"),
    ({"metadata": {"name": "team", "deletionTimestamp": "2026-01-01T00:00:00Z"},
      "status": {"phase": "Terminating"}}, None, None),
    (None, None, None),
])
def test_root_ca_action(ns, cm, want):
    assert root_ca_action(ns, cm, CA) == want


async def test_every_namespace_gets_ca_and_default_account_back(api, manager_for, clock):
    cm = await manager_for("serviceaccount", "root-ca-cert-publisher", root_ca_pem=CA)
    await api.create("namespaces", {"metadata": {"name": "team"}})
    await settle(cm)
    for ns in ("default", "kube-system", "team"):
        got = await api.get("configmaps", "kube-root-ca.crt", ns)
        assert got["data"] == {"ca.crt": CA}, ns
        assert got["metadata"]["annotations"]["kubernetes.io/description"] == CA_DESCRIPTION
    # an edit is put back; a deleted default ServiceAccount comes back
    edited = await api.get("configmaps", "kube-root-ca.crt", "team")
    await api.update("configmaps", {**edited, "data": {"ca.crt": "mine"}}, "team")
    await api.delete("serviceaccounts", "default", "team")
    await settle(cm)
    await settle(cm)
    assert (await api.get("configmaps", "kube-root-ca.crt", "team"))["data"] == {"ca.crt": CA}
    assert (await api.get("serviceaccounts", "default", "team"))["metadata"]["name"] == "default"
