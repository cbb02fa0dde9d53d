"""Services and EndpointSlices as the API server and the EndpointSlice controller write them."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def service(name: str, ip: str | None = "10.96.0.20", ports: list[Obj] | None = None, ns: str = "default",
            **spec: Any) -> Obj:
    s: Obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
              "spec": {"ports": ports if ports is not None else
                       [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
                       "selector": {"app": name}, "type": "ClusterIP", **spec}}
    if ip is not None:
        s["spec"]["clusterIP"] = ip
    return s


def endpoint(ip: str, node: str = "node-1", ready: bool = True, serving: bool | None = None,
             terminating: bool = False, pod: str | None = None) -> Obj:
    return {"addresses": [ip],
            "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                           "terminating": terminating},
            "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": "default", "name": pod or f"pod-{ip.rsplit('.', 1)[1]}"}}


def slice_(svc: str, endpoints: list[Obj], ports: list[Obj] | None = None, ns: str = "default",
           name: str | None = None) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name or f"{svc}-abcde", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": endpoints,
            "ports": ports if ports is not None else [{"name": "http", "port": 8080, "protocol": "TCP"}]}
