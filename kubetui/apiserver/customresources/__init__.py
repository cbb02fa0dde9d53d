"""Custom resources: CustomResourceDefinitions, and serving the kinds they define.

Upstream: ``staging/src/k8s.io/apiextensions-apiserver`` (the API server
inside kube-apiserver that serves ``apiextensions.k8s.io`` and every custom
resource) and kube-aggregator's APIService registration. ``serving`` turns
the Established CRDs into served resources; ``strategy`` holds the REST
strategies of CRDs, APIServices and custom resources. The schema maths
(structural check, validation, defaulting, pruning) is pure and lives in
``kubetui.api.customresource``; the naming/establishing/cleanup controllers
are ``kubetui.controllers.customresourcedefinition``.
"""

from kubetui.apiserver.customresources.serving import (
    apply_defaults, custom, ensure_local_apiservices, openapi_documents, sync, unknown_fields,
)

__all__ = ["apply_defaults", "custom", "ensure_local_apiservices", "openapi_documents", "sync", "unknown_fields"]
