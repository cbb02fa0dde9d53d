"""kube-apiserver: the only component that talks to the store.

``registry`` is the generic REST storage (create/get/list/watch/update/patch/
delete with Kubernetes' semantics), with per-kind ``strategy``, Service
``ipam``, ``subresources`` (scale, binding, eviction), ``fieldmanager``
(managedFields, server-side apply) and ``watch``; ``server`` serves it over
HTTPS with discovery, OpenAPI and Tables; ``events`` records Events.
"""
