"""A tiny operator: every WebApp (demo.example.com/v1) becomes a Deployment.

The control loop every Kubernetes controller runs, written with the official
``kubernetes`` Python client (pip install kubernetes):

1. watch the custom resources (and look at all of them again every few
   seconds: level-triggered, so a missed event heals on the next pass);
2. for each WebApp, compute the Deployment it wants (decide) ...
3. ... create or patch the real one until it matches (act), owned by the
   WebApp so deleting the WebApp deletes the Deployment (garbage collector);
4. write what it observed back into the WebApp's status subresource.

Run it with ``python3 webapp_operator.py`` (it reads your KUBECONFIG).
"""

from __future__ import annotations

import logging
import signal
import sys

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "demo.example.com", "v1", "webapps"
RESYNC_SECONDS = 5

log = logging.getLogger("webapp-operator")


def desired_deployment(webapp: dict) -> dict:
    """Decide: the Deployment a WebApp asks for (a pure function of the WebApp)."""
    meta, spec = webapp["metadata"], webapp.get("spec") or {}
    labels = {"app.kubernetes.io/name": meta["name"], "app.kubernetes.io/managed-by": "webapp-operator"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": labels,
                     "ownerReferences": [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "WebApp",
                                          "name": meta["name"], "uid": meta["uid"],
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": spec.get("replicas", 1),
                 "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "web", "image": spec["image"]}]}}},
    }


def reconcile(apps: client.AppsV1Api, custom: client.CustomObjectsApi, webapp: dict) -> None:
    """Act: make the real Deployment match, then report in the WebApp's status."""
    meta = webapp["metadata"]
    if meta.get("deletionTimestamp"):
        return
    want = desired_deployment(webapp)
    ns, name = meta["namespace"], meta["name"]
    try:
        have = apps.read_namespaced_deployment(name, ns)
    except ApiException as e:
        if e.status != 404:
            raise
        apps.create_namespaced_deployment(ns, want)
        log.info("reconciled webapp %s/%s: created Deployment (replicas %s, image %s)", ns, name,
                 want["spec"]["replicas"], want["spec"]["template"]["spec"]["containers"][0]["image"])
        return
    image = have.spec.template.spec.containers[0].image
    if have.spec.replicas != want["spec"]["replicas"] or image != want["spec"]["template"]["spec"]["containers"][0]["image"]:
        apps.patch_namespaced_deployment(name, ns, {"spec": want["spec"]})
        log.info("reconciled webapp %s/%s: patched Deployment (replicas %s -> %s, image %s -> %s)", ns, name,
                 have.spec.replicas, want["spec"]["replicas"], image,
                 want["spec"]["template"]["spec"]["containers"][0]["image"])
    status = {"readyReplicas": have.status.ready_replicas or 0, "observedGeneration": meta.get("generation")}
    if (webapp.get("status") or {}) != status:
        custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, PLURAL, name, {"status": status})


def safely(fn, *args) -> None:
    """A failed reconcile is logged and retried at the next pass (a controller never dies of one object)."""
    try:
        fn(*args)
    except ApiException as e:
        log.warning("reconcile failed (%s %s); will retry", e.status, e.reason)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stdout)
    config.load_kube_config()
    apps, custom = client.AppsV1Api(), client.CustomObjectsApi()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log.info("watching %s.%s", PLURAL, GROUP)
    while True:
        # List everything (the resync), then watch from that list's resourceVersion.
        listed = custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        for webapp in listed["items"]:
            safely(reconcile, apps, custom, webapp)
        stream = watch.Watch().stream(custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                      resource_version=listed["metadata"]["resourceVersion"],
                                      timeout_seconds=RESYNC_SECONDS)
        for event in stream:
            if event["type"] in ("ADDED", "MODIFIED"):
                safely(reconcile, apps, custom, event["object"])


if __name__ == "__main__":
    sys.exit(main())
