"""Pod spec validation: containers, ports, env, resources, volumes, probes.

Upstream: pkg/apis/core/validation/validation.go (ValidatePodSpec,
validateContainers, ValidateResourceRequirements, ValidateVolumes,
ValidatePodUpdate). The same checks run for Pods and for the pod templates
inside Deployments and ReplicaSets, only the field paths differ
(``spec.containers[0].image`` vs ``spec.template.spec.containers[0].image``).
"""

from __future__ import annotations

import copy
from typing import Any

from kubetui.api.quantity import parse_quantity
from kubetui.api.validation import ephemeral, names
from kubetui.api.validation.affinity import validate_pod_affinities, validate_topology_spread_constraints
from kubetui.api.validation.field import (
    Cause, as_dict, as_list, child, dict_items, duplicate, forbidden, index, invalid, is_int, key,
    non_negative, not_found, required,
)
from kubetui.api.validation.meta import validate_labels, validate_values
from kubetui.api.validation.volumes import validate_volumes

RESTART_POLICIES = ("Always", "Never", "OnFailure")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")

HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def validate_resource_name(name: str, path: str) -> list[Cause]:
    """Standard names (cpu, memory, hugepages-2Mi…) or domain-qualified extended resources."""
    if name in STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
        return []
    errs = [invalid(path, name, m) for m in names.is_qualified_name(name)]
    if not errs and "/" not in name:
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return errs


def validate_quantity(value: Any, path: str) -> tuple[list[Cause], Any]:
    """A quantity that parses and is not negative; returns the parsed value too."""
    try:
        q = parse_quantity(value)
    except ValueError as e:
        return [invalid(path, value, str(e))], None
    if q.numerator < 0:  # a Fraction's sign is its numerator's (cheaper than comparing Fractions)
        return [invalid(path, value, "must be greater than or equal to 0")], None
    return [], q


def validate_resources(resources: Any, path: str) -> list[Cause]:
    """ValidateResourceRequirements: names, quantities, and requests <= limits."""
    errs: list[Cause] = []
    resources = as_dict(resources)
    parsed: dict[str, dict[str, Any]] = {"limits": {}, "requests": {}}
    for part in ("limits", "requests"):
        values = resources.get(part)
        if values is None:
            continue
        if not isinstance(values, dict):
            errs.append(invalid(child(path, part), values, "must be a map of resource names to quantities"))
            continue
        for name, value in values.items():
            p = key(child(path, part), name)
            errs += validate_resource_name(name, p)
            q_errs, q = validate_quantity(value, p)
            errs += q_errs
            if q is not None:
                parsed[part][name] = (value, q)
                if name.startswith("hugepages-") or (name not in STANDARD_CONTAINER_RESOURCES and "/" in name):
                    if q.denominator != 1:
                        errs.append(invalid(p, value, "must be an integer"))
    for name, (value, q) in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and q > limit[1]:
            errs.append(invalid(child(path, "requests"), value,
                                f"must be less than or equal to {name} limit of {limit[0]}"))
    return errs


def _validate_port_ref(value: Any, path: str) -> list[Cause]:
    """An IntOrString port: a number 1-65535 or an IANA_SVC_NAME."""
    if is_int(value):
        return [invalid(path, value, m) for m in names.is_valid_port_num(value)]
    if isinstance(value, str) and value:
        return [invalid(path, value, m) for m in names.is_valid_port_name(value)]
    return [required(path, "")]


def validate_handler(handler: dict[str, Any], path: str, *, what: str = "handler",
                     lifecycle: bool = False) -> list[Cause]:
    """Exactly one of exec/httpGet/tcpSocket/grpc (upstream's validateHandler).

    A lifecycle hook (preStop/postStart) may also be a ``sleep`` (KEP-3960).
    """
    errs: list[Cause] = []
    present = [h for h in HANDLERS if handler.get(h) is not None]
    if lifecycle or what == "lifecycle":
        present += ["sleep"] if handler.get("sleep") is not None else []
    if not present:
        return [required(path, f"must specify a {what} type")]
    for extra in present[1:]:
        errs.append(forbidden(child(path, extra), f"may not specify more than 1 {what} type"))
    h = present[0]
    body = as_dict(handler.get(h))
    p = child(path, h)
    if h == "exec":
        if not as_list(body.get("command")):
            errs.append(required(child(p, "command"), ""))
    elif h in ("httpGet", "tcpSocket"):
        errs += _validate_port_ref(body.get("port"), child(p, "port"))
        if h == "httpGet":
            errs += validate_values(child(p, "scheme"), body.get("scheme"), ("HTTP", "HTTPS"))
    elif h == "grpc":
        port = body.get("port")
        if not is_int(port):
            errs.append(required(child(p, "port"), ""))
        else:
            errs += [invalid(child(p, "port"), port, m) for m in names.is_valid_port_num(port)]
    return errs


def validate_probe(probe: Any, path: str, *, success_must_be_one: bool) -> list[Cause]:
    if probe is None:
        return []
    probe = as_dict(probe)
    errs = validate_handler(probe, path)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold",
              "terminationGracePeriodSeconds"):
        errs += non_negative(child(path, f), probe.get(f))
    success = probe.get("successThreshold")
    if success_must_be_one and is_int(success) and success != 1:
        errs.append(invalid(child(path, "successThreshold"), success, "must be 1"))
    return errs


def validate_env(env: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, var in dict_items(env):
        p = index(path, i)
        name = var.get("name")
        if not name:
            errs.append(required(child(p, "name"), ""))
        else:
            errs += [invalid(child(p, "name"), name, m) for m in names.is_env_var_name(str(name))]
        source = var.get("valueFrom")
        if source is not None:
            source = as_dict(source)
            kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                     if source.get(k) is not None]
            if var.get("value"):
                errs.append(invalid(child(p, "valueFrom"), "", "may not be specified when `value` is not empty"))
            if not kinds:
                errs.append(invalid(child(p, "valueFrom"), "", "must specify one of: `fieldRef`, "
                                    "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
            elif len(kinds) > 1:
                errs.append(invalid(child(p, "valueFrom"), "", "may not have more than one field specified at a time"))
            for ref in ("configMapKeyRef", "secretKeyRef"):
                body = source.get(ref)
                if isinstance(body, dict):
                    if not body.get("key"):
                        errs.append(required(child(child(child(p, "valueFrom"), ref), "key"), ""))
                    else:
                        errs += [invalid(child(child(child(p, "valueFrom"), ref), "key"), body["key"], m)
                                 for m in names.is_config_map_key(body["key"])]
            field_ref = source.get("fieldRef")
            if isinstance(field_ref, dict) and not field_ref.get("fieldPath"):
                errs.append(required(child(child(child(p, "valueFrom"), "fieldRef"), "fieldPath"), ""))
    return errs


def validate_container_ports(ports: Any, path: str, port_names: set[str]) -> list[Cause]:
    errs: list[Cause] = []
    for i, port in dict_items(ports):
        p = index(path, i)
        name = port.get("name")
        if name:
            errs += [invalid(child(p, "name"), name, m) for m in names.is_valid_port_name(str(name))]
            if name in port_names:
                errs.append(duplicate(child(p, "name"), name))
            port_names.add(name)
        cp = port.get("containerPort")
        if cp in (None, 0):
            errs.append(required(child(p, "containerPort"), ""))
        elif is_int(cp):
            errs += [invalid(child(p, "containerPort"), cp, m) for m in names.is_valid_port_num(cp)]
        hp = port.get("hostPort")
        if is_int(hp) and hp != 0:
            errs += [invalid(child(p, "hostPort"), hp, m) for m in names.is_valid_port_num(hp)]
        errs += validate_values(child(p, "protocol"), port.get("protocol"), PROTOCOLS)
    return errs


def validate_container(c: dict[str, Any], path: str, volumes: set[str], port_names: set[str], *,
                       kind: str) -> list[Cause]:
    """One container; ``kind`` is containers, initContainers or ephemeralContainers."""
    errs: list[Cause] = []
    name = c.get("name")
    if not name:
        errs.append(required(child(path, "name"), ""))
    else:
        errs += [invalid(child(path, "name"), name, m) for m in names.is_dns1123_label(str(name))]
    image = c.get("image")
    if not image or (isinstance(image, str) and not image.strip()):
        errs.append(required(child(path, "image"), ""))
    elif isinstance(image, str) and image != image.strip():
        errs.append(invalid(child(path, "image"), image, "must not have leading or trailing whitespace"))
    errs += validate_values(child(path, "imagePullPolicy"), c.get("imagePullPolicy"), PULL_POLICIES)
    errs += validate_values(child(path, "terminationMessagePolicy"), c.get("terminationMessagePolicy"),
                            TERMINATION_MESSAGE_POLICIES)
    errs += validate_container_ports(c.get("ports"), child(path, "ports"), port_names)
    errs += validate_env(c.get("env"), child(path, "env"))
    errs += validate_resources(c.get("resources"), child(path, "resources"))
    mount_paths: set[str] = set()
    for i, mount in dict_items(c.get("volumeMounts")):
        p = index(child(path, "volumeMounts"), i)
        mname = mount.get("name")
        if not mname:
            errs.append(required(child(p, "name"), ""))
        elif mname not in volumes:
            errs.append(not_found(child(p, "name"), mname))
        mpath = mount.get("mountPath")
        if not mpath:
            errs.append(required(child(p, "mountPath"), ""))
        elif mpath in mount_paths:
            errs.append(invalid(child(p, "mountPath"), mpath, "must be unique"))
        else:
            mount_paths.add(mpath)
        sub = mount.get("subPath")
        if isinstance(sub, str) and (sub.startswith("/") or ".." in sub.split("/")):
            errs.append(invalid(child(p, "subPath"), sub, "must be a relative path without '..'"))
    if kind == "ephemeralContainers":
        return errs  # probes, lifecycle and restartPolicy are forbidden by the allow list (ephemeral.py)
    probes_allowed = kind == "containers" or c.get("restartPolicy") == "Always"
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if c.get(probe) is None:
            continue
        if not probes_allowed:
            errs.append(forbidden(child(path, probe), f"may not be set for {kind}"))
            continue
        errs += validate_probe(c.get(probe), child(path, probe), success_must_be_one=probe != "readinessProbe")
    lifecycle = as_dict(c.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            errs += validate_handler(as_dict(lifecycle[hook]), child(child(path, "lifecycle"), hook),
                                     what="handler", lifecycle=True)
    if kind == "initContainers":
        errs += validate_values(child(path, "restartPolicy"), c.get("restartPolicy"), ("Always",))
    elif c.get("restartPolicy") is not None and kind == "containers":
        # Container-level restart policy is a 1.34+ feature; Always is the only
        # value allowed on a sidecar, so regular containers may not set it here.
        errs.append(forbidden(child(path, "restartPolicy"), "may not be set for non-init containers"))
    return errs


def validate_pod_spec(spec: Any, path: str, *, template: bool = False) -> list[Cause]:
    """ValidatePodSpec."""
    errs: list[Cause] = []
    if not isinstance(spec, dict):
        return [required(path, "")]
    volumes, volume_errs = validate_volumes(spec.get("volumes"), child(path, "volumes"))
    errs += volume_errs
    containers = spec.get("containers")
    if not as_list(containers):
        errs.append(required(child(path, "containers"), ""))
    all_names: set[str] = set()
    port_names: set[str] = set()
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in dict_items(spec.get(kind)):
            p = index(child(path, kind), i)
            errs += validate_container(c, p, volumes, port_names, kind=kind)
            name = c.get("name")
            if name:
                if name in all_names:
                    errs.append(duplicate(child(p, "name"), name))
                all_names.add(name)
    errs += ephemeral.validate_ephemeral_containers(spec, child(path, "ephemeralContainers"))
    if template and as_list(spec.get("ephemeralContainers")):     # ValidatePodTemplateSpec
        errs.append(forbidden(child(path, "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
    errs += validate_values(child(path, "restartPolicy"), spec.get("restartPolicy"), RESTART_POLICIES)
    errs += validate_values(child(path, "dnsPolicy"), spec.get("dnsPolicy"), DNS_POLICIES)
    if spec.get("dnsPolicy") == "None" and not as_dict(spec.get("dnsConfig")).get("nameservers"):
        errs.append(required(child(child(path, "dnsConfig"), "nameservers"),
                             "must provide at least one DNS nameserver when `dnsPolicy` is None"))
    for f in ("terminationGracePeriodSeconds",):
        errs += non_negative(child(path, f), spec.get(f))
    ads = spec.get("activeDeadlineSeconds")
    if is_int(ads) and ads <= 0:
        errs.append(invalid(child(path, "activeDeadlineSeconds"), ads, "must be between 1 and 2147483647, inclusive"))
    node_selector = spec.get("nodeSelector")
    if node_selector is not None:
        errs += validate_labels(node_selector, child(path, "nodeSelector"))
    node_name = spec.get("nodeName")
    if node_name:
        errs += [invalid(child(path, "nodeName"), node_name, m) for m in names.is_dns1123_subdomain(str(node_name))]
    sa = spec.get("serviceAccountName")
    if sa:
        errs += [invalid(child(path, "serviceAccountName"), sa, m) for m in names.is_dns1123_subdomain(str(sa))]
    hostname = spec.get("hostname")
    if hostname:
        errs += [invalid(child(path, "hostname"), hostname, m) for m in names.is_dns1123_label(str(hostname))]
    errs += validate_tolerations(spec.get("tolerations"), child(path, "tolerations"))
    errs += validate_pod_affinities(spec.get("affinity"), child(path, "affinity"))
    errs += validate_topology_spread_constraints(spec.get("topologySpreadConstraints"),
                                                 child(path, "topologySpreadConstraints"))
    for i, secret in dict_items(spec.get("imagePullSecrets")):
        if not secret.get("name"):
            errs.append(required(child(index(child(path, "imagePullSecrets"), i), "name"), ""))
    return errs


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    errs: list[Cause] = []
    for i, t in dict_items(tolerations):
        p = index(path, i)
        k = t.get("key")
        if k:
            errs += [invalid(child(p, "key"), k, m) for m in names.is_qualified_name(str(k))]
        op = t.get("operator")
        if not k and op != "Exists":
            errs.append(invalid(child(p, "operator"), op or "",
                                "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
        if op == "Exists" and t.get("value"):
            errs.append(invalid(child(p, "operator"), t.get("value"), "value must be empty when `operator` is 'Exists'"))
        errs += validate_values(child(p, "operator"), op, TOLERATION_OPERATORS)
        errs += validate_values(child(p, "effect"), t.get("effect"), TAINT_EFFECTS)
        if t.get("tolerationSeconds") is not None and t.get("effect") != "NoExecute":
            errs.append(invalid(child(p, "effect"), t.get("effect"),
                                "effect must be 'NoExecute' when `tolerationSeconds` is set"))
    return errs


POD_UPDATE_MESSAGE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def validate_pod_update(new_spec: Any, old_spec: Any, path: str = "spec", *, resize: bool = False) -> list[Cause]:
    """ValidatePodUpdate: a running pod's spec is almost entirely fixed.

    Only images, a shorter ``activeDeadlineSeconds``, added tolerations (and,
    through the ``resize`` subresource, container resources) may change.
    """
    errs: list[Cause] = []
    new_spec, old_spec = as_dict(new_spec), as_dict(old_spec)
    ads_new, ads_old = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if ads_old is not None and (ads_new is None or (is_int(ads_new) and is_int(ads_old) and ads_new > ads_old)):
        errs.append(invalid(child(path, "activeDeadlineSeconds"), ads_new,
                            "must be less than or equal to previous value"))
    old_tol = [t for t in as_list(old_spec.get("tolerations"))]
    new_tol = as_list(new_spec.get("tolerations"))
    if any(t not in new_tol for t in old_tol):
        errs.append(forbidden(child(path, "tolerations"), "existing toleration can not be modified except its tolerationSeconds"))
    a, b = copy.deepcopy(new_spec), copy.deepcopy(old_spec)
    for s in (a, b):
        s.pop("activeDeadlineSeconds", None)
        s.pop("tolerations", None)
        for kind in ("containers", "initContainers"):
            for _, c in dict_items(s.get(kind)):
                c.pop("image", None)
                if resize:
                    c.pop("resources", None)
                    c.pop("resizePolicy", None)
    # Binding sets nodeName once. Upstream that write bypasses update
    # validation; kubetui's registry routes it through here, so the ""-to-node
    # transition is let through (a node change after that is still refused).
    if not b.get("nodeName") and a.get("nodeName"):
        a.pop("nodeName")
    # terminationGracePeriodSeconds may go from negative to 1.
    if is_int(b.get("terminationGracePeriodSeconds")) and b["terminationGracePeriodSeconds"] < 0 \
            and a.get("terminationGracePeriodSeconds") == 1:
        a.pop("terminationGracePeriodSeconds")
        b.pop("terminationGracePeriodSeconds")
    if a != b:
        changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        errs.append(forbidden(path, POD_UPDATE_MESSAGE + f" (changed: {', '.join(f'spec.{k}' for k in changed)})"))
    for kind in ("containers", "initContainers"):
        for i, c in dict_items(new_spec.get(kind)):
            image = c.get("image")
            if not image:
                errs.append(required(child(index(child(path, kind), i), "image"), ""))
    return errs


def validate_pod_status(status: Any, path: str = "status") -> list[Cause]:
    status = as_dict(status)
    errs = validate_values(child(path, "phase"), status.get("phase"),
                           ("Pending", "Running", "Succeeded", "Failed", "Unknown"))
    for f in ("podIP", "hostIP"):
        ip = status.get(f)
        if ip:
            errs += [invalid(child(path, f), ip, m) for m in names.is_valid_ip(str(ip))]
    for i, c in dict_items(status.get("conditions")):
        if not c.get("type"):
            errs.append(required(child(index(child(path, "conditions"), i), "type"), ""))
    return errs


def validate_pod(obj: dict[str, Any], old: dict[str, Any] | None, subresource: str | None) -> list[Cause]:
    """Pod-specific checks (metadata is checked by the caller)."""
    errs: list[Cause] = []
    if subresource in ("status",):
        return validate_pod_status(obj.get("status"))
    if subresource in ("binding", "eviction"):
        return errs
    errs += validate_pod_spec(obj.get("spec"), "spec")
    if old is None:
        errs += ephemeral.validate_on_create(obj.get("spec"))
    elif subresource == "ephemeralcontainers":
        errs += ephemeral.validate_update(obj, old)
    else:
        errs += validate_pod_update(obj.get("spec"), old.get("spec"), resize=subresource == "resize")
    return errs

