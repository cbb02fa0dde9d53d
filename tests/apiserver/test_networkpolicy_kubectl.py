"""The real kubectl against networking.k8s.io/v1 NetworkPolicies over HTTPS: discovery, the
documentation's examples applied unchanged, kubectl's columns, 422s worded as upstream, Warning headers."""

from __future__ import annotations

import pytest
import pytest_asyncio
import yaml

from tests.apiserver.test_http_support import HTTPCluster, start_cluster

pytestmark = pytest.mark.asyncio(loop_scope="module")

# https://kubernetes.io/docs/concepts/services-networking/network-policies/ (the first example, verbatim)
DOC_EXAMPLE = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
"""

DENY_ALL = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory):
    c = await start_cluster(tmp_path_factory.mktemp("netpol"))
    yield c
    await c.stop()


async def ok(c: HTTPCluster, *args: str, stdin: bytes | None = None) -> tuple[str, str]:
    rc, out, err = await c.kubectl(*args, stdin=stdin)
    assert rc == 0, f"kubectl {' '.join(args)} -> {rc}\nstdout: {out}\nstderr: {err}"
    return out, err


async def test_api_resources_and_explain(cluster):
    out, _ = await ok(cluster, "api-resources", "--api-group=networking.k8s.io")
    assert ["networkpolicies", "netpol", "networking.k8s.io/v1", "true", "NetworkPolicy"] in [
        line.split() for line in out.splitlines()]
    out, _ = await ok(cluster, "explain", "networkpolicy.spec.ingress.ports.endPort")
    assert "endPort indicates that the range of ports from port to endPort" in out


async def test_documentation_examples_apply_unchanged_and_print_kubectls_columns(cluster):
    out, _ = await ok(cluster, "apply", "-f", "-", stdin=DOC_EXAMPLE.encode())
    assert "networkpolicy.networking.k8s.io/test-network-policy created" in out
    await ok(cluster, "apply", "-f", "-", stdin=DENY_ALL.encode())
    out, _ = await ok(cluster, "get", "netpol")
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["NAME", "POD-SELECTOR", "AGE"]
    assert ["default-deny-ingress", "<none>"] == lines[1][:2] and ["test-network-policy", "role=db"] == lines[2][:2]
    got = yaml.safe_load((await ok(cluster, "get", "netpol", "default-deny-ingress", "-o", "yaml"))[0])
    assert got["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert got["metadata"]["generation"] == 1


async def test_bad_cidr_is_a_422_with_upstreams_message_and_nothing_stored(cluster):
    bad = DENY_ALL.replace("default-deny-ingress", "bad").replace(
        "  - Ingress\n", "  - Ingress\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}\n"
                         "    ports: [{port: 80, endPort: 70}]\n")
    rc, out, err = await cluster.kubectl("apply", "-f", "-", stdin=bad.encode())
    assert rc != 0
    assert 'The NetworkPolicy "bad" is invalid' in err
    assert 'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`' in err
    assert "spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`" in err
    rc, _, err = await cluster.kubectl("get", "netpol", "bad")
    assert rc != 0 and "NotFound" in err


async def test_ambiguous_cidr_is_stored_with_a_warning(cluster):
    amb = DENY_ALL.replace("default-deny-ingress", "amb").replace(
        "  - Ingress\n", "  - Ingress\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.1/8}\n")
    out, err = await ok(cluster, "apply", "-f", "-", stdin=amb.encode())
    assert 'Warning: spec.ingress[0].from[0].ipBlock.cidr: CIDR value "10.0.0.1/8" is ambiguous in this context ' \
           '(should be "10.0.0.0/8" or "10.0.0.1/32"?)' in err


async def test_a_cluster_with_local_nodes_says_it_cannot_enforce_policies(cluster):
    from kubetui.api.resources import resource_for
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "netpol-local-1"},
            "status": {"nodeInfo": {"containerRuntimeVersion": "kubetui-process://0.1"}}}
    await cluster.store.create(resource_for("nodes").key("netpol-local-1"), node)
    try:
        out, err = await ok(cluster, "apply", "-f", "-",
                            stdin=DENY_ALL.replace("default-deny-ingress", "local").encode())
        assert "networkpolicy.networking.k8s.io/local created" in out
        assert "Warning: NetworkPolicy is not enforced on node netpol-local-1: local and simulated nodes run " \
               "pods without a network namespace of their own" in err
    finally:
        await cluster.store.delete(resource_for("nodes").key("netpol-local-1"))


async def test_the_official_python_client_creates_reads_and_is_refused(cluster):
    """``NetworkingV1Api`` with the client's own models: defaults come back, a bad CIDR is its ApiException 422."""
    import asyncio
    import json

    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    from tests.apiserver.test_pyclient import api_client

    def run() -> tuple[object, ApiException]:
        with api_client(cluster) as api:
            net = k8s.NetworkingV1Api(api)
            body = k8s.V1NetworkPolicy(
                metadata=k8s.V1ObjectMeta(name="pyclient-allow"),
                spec=k8s.V1NetworkPolicySpec(
                    pod_selector=k8s.V1LabelSelector(match_labels={"app": "db"}),
                    egress=[k8s.V1NetworkPolicyEgressRule(ports=[k8s.V1NetworkPolicyPort(port=53)])]))
            net.create_namespaced_network_policy("default", body)
            got = net.read_namespaced_network_policy("pyclient-allow", "default")
            bad = k8s.V1NetworkPolicy(metadata=k8s.V1ObjectMeta(name="pyclient-bad"), spec=k8s.V1NetworkPolicySpec(
                pod_selector=k8s.V1LabelSelector(),
                ingress=[k8s.V1NetworkPolicyIngressRule(_from=[k8s.V1NetworkPolicyPeer(
                    ip_block=k8s.V1IPBlock(cidr="10.0.0.0/99"))])]))
            try:
                net.create_namespaced_network_policy("default", bad)
            except ApiException as e:
                return got, e
            raise AssertionError("a bad CIDR was accepted")

    got, err = await asyncio.to_thread(run)
    assert got.spec.policy_types == ["Ingress", "Egress"] and got.spec.egress[0].ports[0].protocol == "TCP"
    assert err.status == 422
    cause = json.loads(err.body)["details"]["causes"][0]
    assert cause == {"reason": "FieldValueInvalid", "field": "spec.ingress[0].from[0].ipBlock.cidr",
                     "message": 'Invalid value: "10.0.0.0/99": must be a valid CIDR value, '
                                "(e.g. 10.9.8.0/24 or 2001:db8::/64)"}
