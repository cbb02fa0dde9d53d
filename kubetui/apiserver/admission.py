"""Mutating admission: what kube-apiserver's admission plugins add to a pod.

Upstream: ``plugin/pkg/admission/`` (``serviceaccount``, ``defaulttolerationseconds``,
``priority``), run by kube-apiserver after an object is decoded and defaulted
and before it is validated and stored. This is why a pod read back from a
real cluster has ``serviceAccountName: default``, two NoExecute tolerations
nobody wrote, and ``priority: 0``: the API server's admission chain put them
there. One function per plugin, each named after it; ``Admission`` runs them
in kube-apiserver's order on create (and keeps what they set on update).

The tolerations' ``tolerationSeconds`` follow the cluster's timings: 300 s on
a cluster with Kubernetes' timings, a few seconds with kubetui's lab timings
(``kubetui.timings``), so an evicted pod's story fits in a lesson.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from kubetui.api.errors import Forbidden
from kubetui.api.resources import Resource, resource_for
from kubetui.timings import LAB, Timings

Obj = dict[str, Any]
# (resource plural, namespace, name) -> the stored object, or None
Lookup = Callable[[str, "str | None", str], "Obj | None"]

DEFAULT_SERVICE_ACCOUNT = "default"
API_ACCESS_VOLUME = "kube-api-access"                      # ServiceAccountVolumeName
API_TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"  # DefaultAPITokenMountPath
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"                     # what the root-ca-cert-publisher writes
WARN_ONLY_BOUND_TOKEN_EXPIRATION = 3607                    # serviceaccount.WarnOnlyBoundTokenExpirationSeconds
RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"              # k8s.io/apimachinery/pkg/util/rand
# utilrand is math/rand, not a cryptographic source: the suffix only has to differ, and the
# OS's random source (five reads per pod before) is not worth a pod write's time.
_RNG = random.Random()
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
# scheduling.DefaultPriorityWhenNoDefaultClassExists
DEFAULT_PRIORITY = 0
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"
# The PriorityClasses every kube-apiserver creates at start (scheduling/v1 SystemPriorityClasses)
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


def _forbidden(pod: Obj, why: str) -> Forbidden:
    """``admission.NewForbidden``: ``pods "NAME" is forbidden: WHY``."""
    name = (pod.get("metadata") or {}).get("name") or (pod.get("metadata") or {}).get("generateName") or ""
    return Forbidden(f'pods "{name}" is forbidden: {why}', name=name, kind="pods")


def service_account(pod: Obj, namespace: str, lookup: Lookup) -> None:
    """The ``ServiceAccount`` admission plugin (plugin/pkg/admission/serviceaccount).

    A pod without ``serviceAccountName`` runs as the namespace's ``default``
    ServiceAccount; the account must exist (403 otherwise, upstream's words),
    and its ``imagePullSecrets`` become the pod's if the pod names none.
    Mirror pods are left alone. Unless the pod (or else the account) says
    ``automountServiceAccountToken: false``, every container and init
    container mounts the projected ``kube-api-access-xxxxx`` volume (a bound
    token the kubelet requests, the cluster CA, the namespace) read-only at
    ``/var/run/secrets/kubernetes.io/serviceaccount``, where in-cluster
    clients look.
    """
    if "kubernetes.io/config.mirror" in ((pod.get("metadata") or {}).get("annotations") or {}):
        return
    spec = pod.setdefault("spec", {})
    name = spec.get("serviceAccountName") or DEFAULT_SERVICE_ACCOUNT
    spec["serviceAccountName"] = name
    spec["serviceAccount"] = name  # the deprecated alias, written back as a copy (v1 conversion)
    account = lookup("serviceaccounts", namespace, name)
    if account is None:
        raise _forbidden(pod, f'error looking up service account {namespace}/{name}: '
                              f'serviceaccount "{name}" not found')
    if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
        spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in account["imagePullSecrets"]
                                    if isinstance(s, dict)]
    if should_automount(account, spec):
        mount_service_account_token(spec)


def should_automount(account: Obj, spec: Obj) -> bool:
    """``shouldAutomount``: the pod's ``automountServiceAccountToken`` wins, then the account's, else true."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if account.get("automountServiceAccountToken") is not None:
        return bool(account["automountServiceAccountToken"])
    return True


def token_volume_source() -> Obj:
    """Upstream ``TokenVolumeSource()``: a bound token, the cluster CA, the namespace."""
    return {"sources": [
        {"serviceAccountToken": {"expirationSeconds": WARN_ONLY_BOUND_TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ], "defaultMode": 420}


def _generate_name(base: str) -> str:
    """``names.SimpleNameGenerator``: base + 5 characters of ``utilrand``'s alphabet (no vowels, no look-alikes)."""
    return base + "".join(_RNG.choices(RAND_ALPHABET, k=5))


def mount_service_account_token(spec: Obj) -> None:
    """``mountServiceAccountToken``: the projected volume, mounted by each container without a mount there."""
    volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
    existing = next((v.get("name") for v in volumes if isinstance(v, dict)
                     and str(v.get("name", "")).startswith(API_ACCESS_VOLUME + "-")), None)
    name = existing or _generate_name(API_ACCESS_VOLUME + "-")
    needs = False
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            if not isinstance(c, dict):
                continue
            mounts = c.get("volumeMounts") if isinstance(c.get("volumeMounts"), list) else []
            if any(isinstance(m, dict) and m.get("mountPath") == API_TOKEN_MOUNT_PATH for m in mounts):
                continue  # an existing mount at the default path prevents the token's
            c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True, "mountPath": API_TOKEN_MOUNT_PATH}]
            needs = True
    if existing is None and needs:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


def default_toleration_seconds(pod: Obj, seconds: int) -> None:
    """The ``DefaultTolerationSeconds`` admission plugin (plugin/pkg/admission/defaulttolerationseconds).

    Every pod tolerates a NotReady or unreachable node for ``seconds`` (300
    upstream) before the taint manager evicts it, unless it already tolerates
    that taint (same key, or no key; NoExecute or no effect).
    """
    spec = pod.setdefault("spec", {})
    tolerations = [t for t in spec.get("tolerations") or [] if isinstance(t, dict)]
    for key in (NOT_READY, UNREACHABLE):
        tolerated = any(t.get("key") in (None, "", key) and t.get("effect") in (None, "", "NoExecute")
                        for t in tolerations)
        if not tolerated:
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})
    spec["tolerations"] = tolerations


def priority(pod: Obj, lookup: Lookup | None = None, default_class: Obj | None = None) -> None:
    """The ``Priority`` admission plugin (plugin/pkg/admission/priority).

    ``priorityClassName`` resolves to the PriorityClass's integer ``value``
    and its ``preemptionPolicy`` (``lookup`` reads the stored classes; the two
    built-in system classes are always known). With no class named, the
    ``globalDefault`` class (``default_class``) names itself, or else the
    pod gets 0 and ``PreemptLowerPriority``. An unknown name is refused, and a
    ``priority`` or ``preemptionPolicy`` that contradicts the class is refused,
    with upstream's words.
    """
    spec = pod.setdefault("spec", {})
    class_name = spec.get("priorityClassName")
    policy_value = PREEMPT_LOWER_PRIORITY
    if not class_name:
        value = DEFAULT_PRIORITY
        if default_class is not None:
            spec["priorityClassName"] = default_class["metadata"]["name"]
            value = int(default_class.get("value") or 0)
            policy_value = default_class.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
    else:
        pc = lookup("priorityclasses", None, class_name) if lookup is not None else None
        if pc is not None:
            value = int(pc.get("value") or 0)
            policy_value = pc.get("preemptionPolicy") or PREEMPT_LOWER_PRIORITY
        elif class_name in SYSTEM_PRIORITY_CLASSES:
            value = SYSTEM_PRIORITY_CLASSES[class_name]
        else:
            raise _forbidden(pod, f"no PriorityClass with name {class_name} was found")
    given = spec.get("priority")
    if given is not None and given != value:
        raise _forbidden(pod, f"the integer value of priority ({given}) must not be provided in pod spec; "
                              f"priority admission controller computed {value} from the given PriorityClass name")
    spec["priority"] = value
    policy = spec.get("preemptionPolicy")
    if policy is not None and policy != policy_value:
        raise _forbidden(pod, f"the string value of PreemptionPolicy ({policy}) must not be provided in pod spec; "
                              f"priority admission controller computed {policy_value} from the given "
                              f"PriorityClass name")
    spec["preemptionPolicy"] = policy_value


class Admission:
    """kube-apiserver's mutating admission chain, for the plugins kubetui runs.

    ``timings`` gives DefaultTolerationSeconds its value; the control plane
    sets the cluster's preset (lab timings unless ``--timings kubernetes``).
    """

    def __init__(self, timings: Timings = LAB) -> None:
        self.timings = timings

    def admit_create(self, registry: Any, resource: Resource, namespace: str | None, obj: Obj) -> None:
        """Run the plugins on a new object (a pod; other kinds pass through)."""
        if resource.kind != "Pod" or not isinstance(obj.get("spec", {}), dict):
            return

        def lookup(plural: str, ns: str | None, name: str) -> Obj | None:
            kv = registry.store.get(registry.key(resource_for(plural), ns, name), copy=False)
            return kv.value if kv is not None else None

        service_account(obj, namespace or "", lookup)
        default_toleration_seconds(obj, int(self.timings.default_toleration_seconds))
        defaults = [kv.value for kv in registry.store.range(resource_for("priorityclasses").key(), copy=False)
                    if kv.value.get("globalDefault")]
        priority(obj, lookup, min(defaults, key=lambda pc: pc.get("value") or 0) if defaults else None)

    @staticmethod
    def admit_update(resource: Resource, new: Obj, old: Obj) -> None:
        """On update the Priority plugin keeps what it set on create if the new body omits it.

        (Upstream validation then refuses any other change to these fields.)
        """
        if resource.kind != "Pod":
            return
        spec, old_spec = new.get("spec"), old.get("spec") or {}
        if not isinstance(spec, dict):
            return
        for f in ("priority", "preemptionPolicy"):
            if spec.get(f) is None and old_spec.get(f) is not None:
                spec[f] = old_spec[f]
