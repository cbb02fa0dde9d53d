"""ObjectMeta validation: names, namespaces, labels, annotations, owners, selectors.

Upstream: k8s.io/apimachinery/pkg/api/validation/objectmeta.go and
pkg/apis/meta/v1/validation/validation.go. Every object passes through these
checks: its name must suit its kind (most kinds want a DNS-1123 subdomain,
Namespaces a DNS-1123 label, Services a DNS-1035 label), labels and annotation
keys must be qualified names, and on update ``name``, ``namespace``, ``uid``
and ``creationTimestamp`` may not change.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, Raw, as_dict, as_list, child, dict_items, forbidden, immutable, index, invalid, is_int, key,
    not_supported, required, too_long,
)

NameCheck = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE = 256 * 1024  # bytes, keys plus values

# How each kind's names are checked (ValidateXName in pkg/apis/core/validation).
DNS1123_LABEL_KINDS = {"Namespace"}
DNS1035_LABEL_KINDS = {"Service"}


RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def name_check_for(kind: str) -> NameCheck:
    if kind in RBAC_KINDS:
        from kubetui.api.validation.rbac import is_valid_path_segment_name  # ValidateRBACName
        return is_valid_path_segment_name
    if kind in DNS1123_LABEL_KINDS:
        return names.is_dns1123_label
    if kind in DNS1035_LABEL_KINDS:
        return names.is_dns1035_label
    return names.is_dns1123_subdomain


def validate_labels(labels: Any, path: str) -> list[Cause]:
    """Keys are qualified names, values valid label values (the path is the map's)."""
    errs: list[Cause] = []
    if labels is None:
        return errs
    if not isinstance(labels, dict):
        return [invalid(path, labels, "must be a map of strings")]
    for k, v in labels.items():
        for msg in names.is_qualified_name(k):
            errs.append(invalid(path, k, msg))
        if not isinstance(v, str):
            errs.append(invalid(key(path, k), v, "label values must be strings"))
            continue
        for msg in names.is_valid_label_value(v):
            errs.append(invalid(path, v, msg))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if annotations is None:
        return errs
    if not isinstance(annotations, dict):
        return [invalid(path, annotations, "must be a map of strings")]
    total = 0
    for k, v in annotations.items():
        for msg in names.is_qualified_name(k.lower()):
            errs.append(invalid(path, k, msg))
        if not isinstance(v, str):
            errs.append(invalid(key(path, k), v, "annotation values must be strings"))
            continue
        total += len(k.encode()) + len(v.encode())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE))
    return errs


def validate_owner_references(refs: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    controllers = 0
    for i, ref in dict_items(refs):
        p = index(path, i)
        for f in ("apiVersion", "kind", "name", "uid"):
            if not ref.get(f):
                errs.append(required(child(p, f), ""))
        if ref.get("controller") is True:
            controllers += 1
    if controllers > 1:
        errs.append(invalid(path, refs, "Only one reference can have Controller set to true"))
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[str] = set()
    for i, f in enumerate(as_list(finalizers)):
        if not isinstance(f, str):
            errs.append(invalid(index(path, i), f, "must be a string"))
            continue
        for msg in names.is_qualified_name(f):
            errs.append(invalid(index(path, i), f, msg))
        if f in seen:
            errs.append(invalid(index(path, i), f, "duplicate finalizers"))  # upstream wording
        seen.add(f)
    return errs


def _check_name(value: str, check: NameCheck, prefix: bool) -> list[str]:
    # A generateName prefix is checked with its trailing dash masked, since
    # the server appends random characters after it.
    if prefix and value.endswith("-"):
        value = value[:-1] + "a"
    return check(value)


def validate_object_meta(meta: Any, *, namespaced: bool, name_check: NameCheck,
                         path: str = "metadata") -> list[Cause]:
    """ValidateObjectMeta: name or generateName, namespace by scope, labels, annotations."""
    errs: list[Cause] = []
    if not isinstance(meta, dict):
        return [required(path, "")]
    name = meta.get("name") or ""
    generate = meta.get("generateName") or ""
    if generate and isinstance(generate, str):
        for msg in _check_name(generate, name_check, True):
            errs.append(invalid(child(path, "generateName"), generate, msg))
    if not name:
        if not generate:
            errs.append(required(child(path, "name"), "name or generateName is required"))
    elif not isinstance(name, str):
        errs.append(invalid(child(path, "name"), name, "must be a string"))
    else:
        for msg in _check_name(name, name_check, False):
            errs.append(invalid(child(path, "name"), name, msg))
    ns = meta.get("namespace") or ""
    if namespaced:
        if not ns:
            errs.append(required(child(path, "namespace"), ""))
        elif isinstance(ns, str):
            for msg in names.is_dns1123_label(ns):
                errs.append(invalid(child(path, "namespace"), ns, msg))
    elif ns:
        errs.append(forbidden(child(path, "namespace"), "not allowed on this type"))
    generation = meta.get("generation")
    if is_int(generation) and generation < 0:
        errs.append(invalid(child(path, "generation"), generation, "must be greater than or equal to 0"))
    errs += validate_labels(meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(meta.get("annotations"), child(path, "annotations"))
    errs += validate_owner_references(meta.get("ownerReferences"), child(path, "ownerReferences"))
    errs += validate_finalizers(meta.get("finalizers"), child(path, "finalizers"))
    return errs


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> list[Cause]:
    """ValidateObjectMetaUpdate: identity fields never change."""
    new, old = as_dict(new), as_dict(old)
    errs: list[Cause] = []
    for f in ("name", "namespace", "uid", "creationTimestamp"):
        if old.get(f) and new.get(f) != old.get(f):
            errs.append(immutable(child(path, f), new.get(f)))
    if old.get("deletionTimestamp") and new.get("deletionTimestamp") != old.get("deletionTimestamp"):
        errs.append(immutable(child(path, "deletionTimestamp"), new.get("deletionTimestamp")))
    return errs


def validate_template_meta(meta: Any, path: str) -> list[Cause]:
    """A pod template's metadata: only labels and annotations are checked."""
    meta = as_dict(meta)
    return (validate_labels(meta.get("labels"), child(path, "labels"))
            + validate_annotations(meta.get("annotations"), child(path, "annotations")))


SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[Cause]:
    """ValidateLabelSelector: matchLabels are labels; matchExpressions well formed."""
    errs: list[Cause] = []
    if selector is None:
        return errs
    if not isinstance(selector, dict):
        return [invalid(path, selector, "must be a label selector object")]
    for i, expr in dict_items(selector.get("matchExpressions")):
        p = index(child(path, "matchExpressions"), i)
        op = expr.get("operator")
        values = as_list(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(child(p, "values"),
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid(child(p, "operator"), op, "not a valid selector operator"))
        k = expr.get("key")
        if not k:
            errs.append(required(child(p, "key"), ""))
        else:
            for msg in names.is_qualified_name(str(k)):
                errs.append(invalid(child(p, "key"), k, msg))
    errs += validate_labels(selector.get("matchLabels"), child(path, "matchLabels"))
    return errs


def selector_matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    """Does a LabelSelector select these labels? (metav1.LabelSelectorAsSelector)."""
    for k, v in as_dict(selector.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for expr in as_list(selector.get("matchExpressions")):
        expr = as_dict(expr)
        k, op, values = expr.get("key"), expr.get("operator"), as_list(expr.get("values"))
        present = k in labels
        if op == "In" and not (present and labels[k] in values):
            return False
        if op == "NotIn" and present and labels[k] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selector_is_empty(selector: dict[str, Any]) -> bool:
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def go_map(labels: Any) -> Raw:
    """``map[string]string{"app":"web"}``: how upstream prints a label map in errors."""
    items = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(as_dict(labels).items()))
    return Raw(f"map[string]string{{{items}}}")


def go_selector(selector: Any) -> Raw:
    """``v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:…}``."""
    selector = as_dict(selector)
    exprs = as_list(selector.get("matchExpressions"))
    exprs_s = ("[]v1.LabelSelectorRequirement(nil)" if not exprs else
               "[]v1.LabelSelectorRequirement{" + ", ".join(
                   f'v1.LabelSelectorRequirement{{Key:{json.dumps(as_dict(e).get("key", ""))}, '
                   f'Operator:{json.dumps(as_dict(e).get("operator", ""))}, '
                   f'Values:[]string{{{", ".join(json.dumps(v) for v in as_list(as_dict(e).get("values")))}}}}}'
                   for e in exprs) + "}")
    labels = selector.get("matchLabels")
    labels_s = go_map(labels) if labels else "map[string]string(nil)"
    return Raw(f"v1.LabelSelector{{MatchLabels:{labels_s}, MatchExpressions:{exprs_s}}}")


def validate_values(path: str, value: Any, valid: tuple[str, ...], *, required_: bool = False) -> list[Cause]:
    """An enum field: Required if empty and required, NotSupported if unknown."""
    if value in (None, ""):
        return [required(path, "")] if required_ else []
    if value not in valid:
        return [not_supported(path, value, valid)]
    return []
