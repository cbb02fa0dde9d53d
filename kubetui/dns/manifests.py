"""The objects that run the cluster DNS, created at bootstrap (upstream: kubeadm's CoreDNS addon).

Like kubeadm: a Service ``kube-dns`` in ``kube-system`` with the well-known
ClusterIP 10.96.0.10 (the tenth address of the service CIDR) and ports
``dns`` 53/UDP and ``dns-tcp`` 53/TCP, selecting pods labelled
``k8s-app: kube-dns``. The Deployment is named ``kube-dns`` rather than
``coredns``, because the server is kubetui's (``python3 -m kubetui.dns``),
not CoreDNS. Every pod's resolv.conf points at the Service's address.
"""

from __future__ import annotations

from typing import Any

from kubetui.dns.resolvconf import CLUSTER_DNS_IP

NAMESPACE = "kube-system"
LABELS = {"k8s-app": "kube-dns"}


def dns_service(cluster_ip: str = CLUSTER_DNS_IP) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": NAMESPACE,
                         "labels": {**LABELS, "kubernetes.io/name": "KubeDNS"}},
            "spec": {"clusterIP": cluster_ip, "selector": dict(LABELS),
                     "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                               {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}


def dns_deployment(image: str, replicas: int = 1, extra_args: list[str] | None = None) -> dict[str, Any]:
    """``image`` is the node image's tag (it holds Python and the kubetui package).

    The DNS pod is the second Python interpreter on its node, so it runs with one malloc arena
    (``MALLOC_ARENA_MAX``: its reflector threads would each get their own, 0.1-0.25 MiB; the
    node's agents run with 2) and, as the agents do, with ``-OO``: no docstrings in memory. Its
    image carries the opt-2 bytecode of what it imports (``runtime.imagebuild.optimized_bytecode``):
    a module compiled at start would cost more than the docstrings save (8.4 against 7.6 MiB);
    with it, 7.4.
    Issue 18: the kube-dns pod's node is the largest of a cluster."""
    args = ["python3", "-OO", "-m", "kubetui.dns", "--listen", "0.0.0.0:53", *(extra_args or [])]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(LABELS)},
                     "template": {"metadata": {"labels": dict(LABELS)},
                                  "spec": {"priorityClassName": "system-cluster-critical",
                                           "dnsPolicy": "Default",
                                           "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                                            "effect": "NoSchedule"}],
                                           "containers": [{
                                               "name": "dns", "image": image, "imagePullPolicy": "IfNotPresent",
                                               "command": args,
                                               "env": [{"name": "MALLOC_ARENA_MAX", "value": "1"}],
                                               "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                                         {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
                                               "readinessProbe": {"tcpSocket": {"port": 53},
                                                                  "periodSeconds": 2},
                                               "resources": {"requests": {"cpu": "50m", "memory": "30Mi"},
                                                             "limits": {"memory": "100Mi"}}}]}}}}
