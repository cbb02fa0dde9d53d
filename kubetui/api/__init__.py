"""Kubernetes API machinery: types, errors, selectors, validation and patching.

Upstream this is k8s.io/api and k8s.io/apimachinery. Nothing here does I/O.
"""
