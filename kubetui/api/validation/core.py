"""Validation of core/v1 kinds other than Pod: Services, ConfigMaps, Secrets,
Nodes, Namespaces, PersistentVolumes and Claims, Endpoints, Events, ServiceAccounts.

Upstream: pkg/apis/core/validation/validation.go (ValidateService,
ValidateConfigMap, ValidateSecret, ValidateNode, ValidatePersistentVolume,
ValidatePersistentVolumeClaimUpdate, ValidateEndpoints, …) and
pkg/apis/core/validation/events.go.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, as_dict, child, dict_items, duplicate, forbidden, immutable, index, invalid, is_int, key,
    not_supported, required, too_long,
)
from kubetui.api.validation.meta import validate_labels, validate_values
from kubetui.api.validation.pod import validate_quantity
from kubetui.api.validation.volumes import VOLUME_SOURCES

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
PROTOCOLS = ("SCTP", "TCP", "UDP")
NODE_PORT_RANGE = (30000, 32767)
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
MAX_DATA_SIZE = 1024 * 1024  # 1 MiB: etcd's request limit, applied to Secrets and ConfigMaps
REDACTED = "<secret contents redacted>"
PV_SOURCES = tuple(s for s in VOLUME_SOURCES if s not in (
    "emptyDir", "gitRepo", "secret", "persistentVolumeClaim", "downwardAPI", "configMap", "projected",
    "ephemeral", "image")) + ("local",)


# --- Service -----------------------------------------------------------------


def validate_service(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return []
    spec = as_dict(obj.get("spec"))
    errs: list[Cause] = []
    svc_type = spec.get("type") or "ClusterIP"
    errs += validate_values("spec.type", spec.get("type"), SERVICE_TYPES)
    ports = [p for _, p in dict_items(spec.get("ports"))]
    if svc_type == "ExternalName":
        ext = spec.get("externalName")
        if not ext:
            errs.append(required("spec.externalName", ""))
        else:
            errs += [invalid("spec.externalName", ext, m) for m in names.is_dns1123_subdomain(str(ext).rstrip("."))]
        if spec.get("clusterIP") not in (None, ""):
            errs.append(forbidden("spec.clusterIP", "may not be set for ExternalName services"))
    elif not ports:
        errs.append(required("spec.ports", ""))
    seen_names: set[str] = set()
    seen_ports: set[tuple[Any, Any]] = set()
    for i, port in dict_items(spec.get("ports")):
        p = index("spec.ports", i)
        name = port.get("name")
        if len(ports) > 1 and not name:
            errs.append(required(child(p, "name"), ""))
        if name:
            errs += [invalid(child(p, "name"), name, m) for m in names.is_dns1123_label(str(name))]
            if name in seen_names:
                errs.append(duplicate(child(p, "name"), name))
            seen_names.add(name)
        number = port.get("port")
        if not is_int(number):
            errs.append(required(child(p, "port"), ""))
        else:
            errs += [invalid(child(p, "port"), number, m) for m in names.is_valid_port_num(number)]
        protocol = port.get("protocol")
        errs += validate_values(child(p, "protocol"), protocol, PROTOCOLS)
        if (number, protocol or "TCP") in seen_ports:
            errs.append(duplicate(p, {"port": number, "protocol": protocol or "TCP"}))
        seen_ports.add((number, protocol or "TCP"))
        target = port.get("targetPort")
        if is_int(target):
            errs += [invalid(child(p, "targetPort"), target, m) for m in names.is_valid_port_num(target)]
        elif isinstance(target, str) and target:
            errs += [invalid(child(p, "targetPort"), target, m) for m in names.is_valid_port_name(target)]
        node_port = port.get("nodePort")
        if is_int(node_port) and node_port != 0:
            if svc_type not in ("NodePort", "LoadBalancer"):
                errs.append(forbidden(child(p, "nodePort"), f"may not be used when `type` is '{svc_type}'"))
            elif not NODE_PORT_RANGE[0] <= node_port <= NODE_PORT_RANGE[1]:
                errs.append(invalid(child(p, "nodePort"), node_port,
                                    "provided port is not in the valid range. The range of valid ports is "
                                    f"{NODE_PORT_RANGE[0]}-{NODE_PORT_RANGE[1]}"))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        errs += [invalid("spec.clusterIP", cluster_ip, m) for m in names.is_valid_ip(str(cluster_ip))]
    if cluster_ip == "None" and svc_type not in ("ClusterIP",):
        errs.append(invalid("spec.clusterIP", cluster_ip, "may not be set to 'None' for "
                            f"{svc_type} services"))
    errs += validate_values("spec.sessionAffinity", spec.get("sessionAffinity"), SESSION_AFFINITIES)
    timeout = as_dict(as_dict(spec.get("sessionAffinityConfig")).get("clientIP")).get("timeoutSeconds")
    if is_int(timeout) and not 0 < timeout <= 86400:
        errs.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                            "must be greater than 0 and less than 86400"))
    errs += validate_values("spec.externalTrafficPolicy", spec.get("externalTrafficPolicy"), TRAFFIC_POLICIES)
    errs += validate_values("spec.internalTrafficPolicy", spec.get("internalTrafficPolicy"), TRAFFIC_POLICIES)
    errs += validate_values("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"), IP_FAMILY_POLICIES)
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        old_ip = old_spec.get("clusterIP")
        if old_ip and svc_type != "ExternalName" and (old_spec.get("type") or "ClusterIP") != "ExternalName" \
                and cluster_ip != old_ip:
            errs.append(immutable("spec.clusterIP", cluster_ip or ""))
    return errs


# --- ConfigMap and Secret ------------------------------------------------------


def _validate_keys(data: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    if data is None:
        return errs
    if not isinstance(data, dict):
        return [invalid(path, data, "must be a map of strings")]
    for k in data:
        errs += [invalid(key(path, k), k, m) for m in names.is_config_map_key(k)]
    return errs


def _immutable_content(obj: dict[str, Any], old: dict[str, Any] | None, fields: tuple[str, ...]) -> list[Cause]:
    """Once ``immutable: true``, content and the flag itself are frozen."""
    if old is None or old.get("immutable") is not True:
        return []
    errs: list[Cause] = []
    if obj.get("immutable") is not True:
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for f in fields:
        if (obj.get(f) or {}) != (old.get(f) or {}):
            errs.append(forbidden(f, "field is immutable when `immutable` is set"))
    return errs


def validate_config_map(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs = _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("binaryData"), "binaryData")
    data, binary = as_dict(obj.get("data")), as_dict(obj.get("binaryData"))
    size = 0
    for k, v in data.items():
        if k in binary:
            errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
        if isinstance(v, str):
            size += len(k) + len(v.encode())
        else:
            errs.append(invalid(key("data", k), v, "must be a string"))
    for k, v in binary.items():
        size += len(k) + len(_decode(v) or b"")
    if size > MAX_DATA_SIZE:
        errs.append(too_long("", MAX_DATA_SIZE))
    return errs + _immutable_content(obj, old, ("data", "binaryData"))


def _decode(value: Any) -> bytes | None:
    """Secret ``data`` values travel base64-encoded; None when they don't decode."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


SECRET_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
}


def validate_secret(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs = _validate_keys(obj.get("data"), "data") + _validate_keys(obj.get("stringData"), "stringData")
    data = as_dict(obj.get("data"))
    decoded: dict[str, bytes] = {}
    size = 0
    for k, v in data.items():
        raw = _decode(v)
        if raw is None:
            errs.append(invalid(key("data", k), REDACTED, "illegal base64 data"))
            continue
        decoded[k] = raw
        size += len(k) + len(raw)
    for k, v in as_dict(obj.get("stringData")).items():
        if isinstance(v, str):
            decoded[k] = v.encode()
            size += len(k) + len(decoded[k])
    if size > MAX_DATA_SIZE:
        errs.append(too_long("data", MAX_DATA_SIZE))
    secret_type = obj.get("type") or "Opaque"
    for needed in SECRET_REQUIRED_KEYS.get(secret_type, ()):
        if needed not in decoded:
            errs.append(required(key("data", needed), ""))
    if secret_type == "kubernetes.io/basic-auth" and "username" not in decoded and "password" not in decoded:
        errs += [required(key("data", "username"), ""), required(key("data", "password"), "")]
    if secret_type == "kubernetes.io/service-account-token":
        annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
        if not annotations.get("kubernetes.io/service-account.name"):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]", ""))
    for docker_key in (".dockercfg", ".dockerconfigjson"):
        if docker_key in decoded and secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
            try:
                json.loads(decoded[docker_key])
            except ValueError as e:
                errs.append(invalid(key("data", docker_key), REDACTED, f"invalid JSON: {e.args[0]}"))
    if old is not None:
        old_type = old.get("type") or "Opaque"
        if old_type != secret_type:
            errs.append(immutable("type", secret_type))
    return errs + _immutable_content(obj, old, ("data",))


# --- Namespace, Node, ServiceAccount -----------------------------------------------


def validate_namespace(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    for i, f in enumerate(as_dict(obj.get("spec")).get("finalizers") or []):
        if not isinstance(f, str) or names.is_qualified_name(f):
            errs.append(invalid(index("spec.finalizers", i), f,
                                "name is neither a standard finalizer name nor is it fully qualified"))
    errs += validate_values("status.phase", as_dict(obj.get("status")).get("phase"), ("Active", "Terminating"))
    return errs


def validate_taints(taints: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    seen: set[tuple[Any, Any]] = set()
    for i, t in dict_items(taints):
        p = index(path, i)
        k = t.get("key")
        if not k:
            errs.append(required(child(p, "key"), ""))
        else:
            errs += [invalid(child(p, "key"), k, m) for m in names.is_qualified_name(str(k))]
        value = t.get("value")
        if value:
            errs += [invalid(child(p, "value"), value, m) for m in names.is_valid_label_value(str(value))]
        errs += validate_values(child(p, "effect"), t.get("effect"), TAINT_EFFECTS, required_=True)
        if (k, t.get("effect")) in seen:
            errs.append(duplicate(p, f"{k}:{t.get('effect')}"))
        seen.add((k, t.get("effect")))
    return errs


def validate_node(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    spec, status = as_dict(obj.get("spec")), as_dict(obj.get("status"))
    errs = validate_taints(spec.get("taints"), "spec.taints")
    for f in ("podCIDR",):
        if spec.get(f):
            errs += [invalid(child("spec", f), spec[f], m) for m in names.is_valid_cidr(str(spec[f]))]
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        errs += [invalid(index("spec.podCIDRs", i), cidr, m) for m in names.is_valid_cidr(str(cidr))]
    for part in ("capacity", "allocatable"):
        for name, value in as_dict(status.get(part)).items():
            errs += validate_quantity(value, key(child("status", part), name))[0]
    for i, addr in dict_items(status.get("addresses")):
        errs += validate_values(child(index("status.addresses", i), "type"), addr.get("type"),
                                ("Hostname", "InternalIP", "ExternalIP", "InternalDNS", "ExternalDNS"),
                                required_=True)
    if old is not None:
        old_cidr = as_dict(old.get("spec")).get("podCIDR")
        if old_cidr and spec.get("podCIDR") != old_cidr:
            errs.append(forbidden("spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid"))
    return errs


def validate_service_account(obj: dict[str, Any], old: dict[str, Any] | None,
                             subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    for part in ("secrets", "imagePullSecrets"):
        for i, ref in dict_items(obj.get(part)):
            if not ref.get("name"):
                errs.append(required(child(index(part, i), "name"), ""))
    return errs


# --- PersistentVolume and PersistentVolumeClaim -------------------------------------


def _access_modes(modes: Any, path: str) -> list[Cause]:
    if not modes:
        return [required(path, "")]
    errs = [not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return errs


def _storage_class_name(spec: dict[str, Any], path: str) -> list[Cause]:
    name = spec.get("storageClassName")
    if not name:
        return []
    return [invalid(path, name, m) for m in names.is_dns1123_subdomain(str(name))]


def validate_persistent_volume(obj: dict[str, Any], old: dict[str, Any] | None,
                               subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return validate_values("status.phase", as_dict(obj.get("status")).get("phase"),
                               ("Pending", "Available", "Bound", "Released", "Failed"))
    spec = as_dict(obj.get("spec"))
    errs = _access_modes(spec.get("accessModes"), "spec.accessModes")
    capacity = spec.get("capacity")
    if not capacity:
        errs.append(required("spec.capacity", ""))
    elif not isinstance(capacity, dict) or "storage" not in capacity or len(capacity) > 1:
        errs.append(not_supported("spec.capacity", capacity, ("storage",)))
    else:
        q_errs, q = validate_quantity(capacity["storage"], "spec.capacity[storage]")
        errs += q_errs
        if q is not None and q <= 0:
            errs.append(invalid("spec.capacity[storage]", capacity["storage"], "must be greater than zero"))
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        errs.append(forbidden(child("spec", extra), "may not specify more than 1 volume type"))
    if "hostPath" in sources and not as_dict(spec.get("hostPath")).get("path"):
        errs.append(required("spec.hostPath.path", ""))
    if "local" in sources and not as_dict(spec.get("local")).get("path"):
        errs.append(required("spec.local.path", ""))
    errs += validate_values("spec.persistentVolumeReclaimPolicy", spec.get("persistentVolumeReclaimPolicy"),
                            RECLAIM_POLICIES)
    errs += validate_values("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
    errs += _storage_class_name(spec, "spec.storageClassName")
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        for s in PV_SOURCES:
            if old_spec.get(s) != spec.get(s):
                errs.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is forbidden."))
                break
        if old_spec.get("volumeMode") != spec.get("volumeMode"):
            errs.append(immutable("spec.volumeMode", spec.get("volumeMode")))
    return errs


PVC_UPDATE_MESSAGE = ("spec is immutable after creation except resources.requests and "
                      "volumeAttributesClassName for bound claims")


def validate_persistent_volume_claim(obj: dict[str, Any], old: dict[str, Any] | None,
                                     subresource: str | None) -> list[Cause]:
    if subresource == "status":
        return validate_values("status.phase", as_dict(obj.get("status")).get("phase"), ("Pending", "Bound", "Lost"))
    spec = as_dict(obj.get("spec"))
    errs = _access_modes(spec.get("accessModes"), "spec.accessModes")
    requests = as_dict(as_dict(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        errs.append(required("spec.resources[storage]", ""))
    else:
        q_errs, q = validate_quantity(requests["storage"], "spec.resources.requests[storage]")
        errs += q_errs
        if q is not None and q <= 0:
            errs.append(invalid("spec.resources.requests[storage]", requests["storage"], "must be greater than zero"))
    errs += validate_values("spec.volumeMode", spec.get("volumeMode"), VOLUME_MODES)
    errs += _storage_class_name(spec, "spec.storageClassName")
    if old is not None:
        old_spec = as_dict(old.get("spec"))
        a, b = dict(spec), dict(old_spec)
        for s in (a, b):
            s.pop("resources", None)
            s.pop("volumeAttributesClassName", None)
        # Binding fills volumeName once, and a default StorageClass may be
        # assigned to a claim that had none: both are allowed transitions.
        if not b.get("volumeName"):
            a.pop("volumeName", None)
            b.pop("volumeName", None)
        if not b.get("storageClassName"):
            a.pop("storageClassName", None)
            b.pop("storageClassName", None)
        if a != b:
            errs.append(forbidden("spec", PVC_UPDATE_MESSAGE))
        old_req = as_dict(as_dict(old_spec.get("resources")).get("requests")).get("storage")
        new_req = requests.get("storage")
        if old_req is not None and new_req is not None:
            try:
                if parse_quantity(new_req) < parse_quantity(old_req):
                    errs.append(forbidden("spec.resources.requests.storage", "field can not be less than status.capacity"
                                          if as_dict(obj.get("status")).get("capacity") else
                                          "field can not be less than previous value"))
            except ValueError:
                pass
    return errs


# --- Endpoints, Event ----------------------------------------------------------------


def validate_endpoints(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    for i, subset in dict_items(obj.get("subsets")):
        sp = index("subsets", i)
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.append(required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for part in ("addresses", "notReadyAddresses"):
            for j, addr in dict_items(subset.get(part)):
                ip = addr.get("ip")
                p = child(index(child(sp, part), j), "ip")
                if not ip:
                    errs.append(required(p, ""))
                else:
                    errs += [invalid(p, ip, m) for m in names.is_valid_ip(str(ip))]
        for j, port in dict_items(subset.get("ports")):
            p = index(child(sp, "ports"), j)
            n = port.get("port")
            if not is_int(n):
                errs.append(required(child(p, "port"), ""))
            else:
                errs += [invalid(child(p, "port"), n, m) for m in names.is_valid_port_num(n)]
            errs += validate_values(child(p, "protocol"), port.get("protocol"), PROTOCOLS)
            if port.get("name"):
                errs += [invalid(child(p, "name"), port["name"], m) for m in names.is_dns1123_label(str(port["name"]))]
    return errs


def validate_event(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    errs: list[Cause] = []
    involved = as_dict(obj.get("involvedObject"))
    ns = as_dict(obj.get("metadata")).get("namespace")
    if involved.get("namespace") and involved.get("namespace") != ns:
        errs.append(invalid("involvedObject.namespace", involved.get("namespace"), "does not match event.namespace"))
    if obj.get("type"):
        errs += validate_values("type", obj.get("type"), ("Normal", "Warning"))
    for f in ("reason", "message"):
        if isinstance(obj.get(f), str) and len(obj[f]) > (128 if f == "reason" else 4096):
            errs.append(too_long(f, 128 if f == "reason" else 4096))
    if is_int(obj.get("count")) and obj["count"] < 0:
        errs.append(invalid("count", obj["count"], "must be greater than or equal to 0"))
    return errs

