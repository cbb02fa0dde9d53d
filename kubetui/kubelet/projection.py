"""What goes into a ConfigMap, Secret, downwardAPI or projected volume: pure functions from objects to files.

Upstream: the ``configmap``, ``secret``, ``downwardapi`` and ``projected``
volume plugins (``pkg/volume/*``, each with a ``MakePayload``) and
``pkg/fieldpath`` (how labels and annotations are written). The kubelet
fetches the objects; these functions decide the files, their modes, and the
errors (worded as the kubelet words them), so they are table-tested without
a cluster. ``AtomicWriter`` then puts the payload on disk.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

from kubetui.kubelet.atomicwriter import FileProjection

Obj = dict[str, Any]

DEFAULT_MODE = 0o644
SA_TOKEN = "ServiceAccountToken"  # the api_data_sources kind of a serviceAccountToken source


class ProjectionError(Exception):
    """A volume cannot be set up (upstream: ``MountVolume.SetUp failed for volume "x" : <this>``)."""


def not_found(kind: str, name: str) -> str:
    """The kubelet's object managers say ``configmap "x" not found`` (singular, lower case).

    >>> not_found("ConfigMap", "app")
    'configmap "app" not found'
    """
    return f'{kind.lower()} "{name}" not found'


def missing_key(kind: str, namespace: str, name: str, key: str) -> str:
    """``couldn't find key k in ConfigMap default/x`` (env: ``configMapKeyRef``/``secretKeyRef``)."""
    return f"couldn't find key {key} in {kind} {namespace}/{name}"


def _data(kind: str, obj: Obj) -> dict[str, bytes]:
    """Every key of a ConfigMap (``data`` and ``binaryData``) or Secret (``data``, base64) as bytes."""
    out: dict[str, bytes] = {}
    if kind == "Secret":
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
        for k, v in (obj.get("stringData") or {}).items():  # never stored, but harmless to honour
            out[k] = str(v).encode()
        return out
    for k, v in (obj.get("data") or {}).items():
        out[k] = str(v).encode()
    for k, v in (obj.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v or "")
    return out


def key_payload(kind: str, obj: Obj | None, source: Obj, default_mode: int) -> dict[str, FileProjection]:
    """The files of a ``configMap``/``secret`` volume (or projected source).

    Without ``items`` each key is a file named after it; with ``items`` only
    those keys, at their ``path``, with their own ``mode``. A missing object
    or key is an error unless ``optional: true``. Example: ConfigMap
    ``{"a": "1", "b": "2"}`` with ``items: [{key: b, path: dir/b.txt, mode: 0400}]``
    gives ``{"dir/b.txt": FileProjection(b"2", 0o400)}``.
    """
    name = source.get("name") if kind == "ConfigMap" else (source.get("secretName") or source.get("name"))
    optional = bool(source.get("optional"))
    if obj is None:
        if optional:
            return {}
        raise ProjectionError(not_found(kind, name or ""))
    data = _data(kind, obj)
    items = source.get("items")
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in data.items()}
    out: dict[str, FileProjection] = {}
    for it in items:
        key = it["key"]
        if key not in data:
            if optional:
                continue
            what = "configmap references non-existent config key" if kind == "ConfigMap" else \
                "references non-existent secret key"
            raise ProjectionError(f"{what}: {key}")
        mode = it.get("mode")
        out[it.get("path") or key] = FileProjection(data[key], default_mode if mode is None else int(mode))
    return out


# -- the downward API ------------------------------------------------------------

def format_map(m: dict[str, str]) -> str:
    """Labels/annotations as a downwardAPI file: sorted ``key="value"`` lines (upstream ``fieldpath.FormatMap``).

    >>> format_map({"tier": "web", "app": "kv"})
    'app="kv"\\ntier="web"'
    """
    return "\n".join(f"{k}={json.dumps(str(v), ensure_ascii=False)}" for k, v in sorted(m.items()))


def field_value(pod: Obj, path: str, pod_ip: str = "", host_ip: str = "") -> str:
    """A ``fieldRef.fieldPath`` of the pod (upstream ``podFieldSelectorRuntimeValue``/``ExtractFieldPathAsString``).

    >>> field_value({"metadata": {"labels": {"app": "kv"}}, "spec": {}}, "metadata.labels['app']")
    'kv'
    """
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    if path == "metadata.labels":
        return format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return format_map(meta.get("annotations") or {})
    simple = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
              "status.podIP": pod_ip, "status.hostIP": host_ip, "status.podIPs": pod_ip,
              "status.hostIPs": host_ip}
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise ProjectionError(f"unsupported fieldPath: {path}")


_SUFFIX = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
           "k": 10 ** 3, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15,
           "E": 10 ** 18, "m": 0.001, "": 1}


def parse_quantity(q: Any) -> float:
    """``"64Mi"`` -> 67108864, ``"250m"`` -> 0.25 (Kubernetes resource.Quantity, the common forms)."""
    m = re.fullmatch(r"\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(q))
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"quantities must match the regular expression, got {q!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


def binary_quantity(n: int) -> str:
    """Bytes as the shortest exact binary Quantity.

    >>> binary_quantity(10 * 2 ** 20), binary_quantity(1500)
    ('10Mi', '1500')
    """
    for suffix, size in (("Ei", 2 ** 60), ("Pi", 2 ** 50), ("Ti", 2 ** 40), ("Gi", 2 ** 30), ("Mi", 2 ** 20),
                         ("Ki", 2 ** 10)):
        if n and n % size == 0:
            return f"{n // size}{suffix}"
    return str(n)


def resource_value(container: Obj, resource: str, divisor: Any, allocatable: dict[str, float]) -> str:
    """A ``resourceFieldRef``: a container's limit or request, divided and rounded up.

    Upstream ``ExtractContainerResourceValue``: ``limits.cpu`` of ``500m`` with
    divisor ``1`` is ``1`` (ceil), with divisor ``1m`` is ``500``; an unset limit
    is the node's allocatable (``allocatable`` = ``{"cpu": cores, "memory": bytes}``),
    an unset request is 0.
    """
    kind, _, res = resource.partition(".")
    if kind not in ("limits", "requests") or res not in ("cpu", "memory", "ephemeral-storage"):
        raise ProjectionError(f"unsupported container resource: {resource}")
    spec = (container.get("resources") or {}).get(kind) or {}
    if res in spec:
        value = parse_quantity(spec[res])
    elif kind == "limits":
        value = float(allocatable.get(res, 0))
    else:
        value = 0.0
    d = parse_quantity(divisor if divisor not in (None, "", 0) else "1")
    if d <= 0:
        raise ProjectionError(f"invalid divisor {divisor!r}")
    # CPU is compared in millicores (as upstream's MilliValue), so 1m/1m is exactly 1
    if res == "cpu":
        return str(math.ceil(round(value * 1000) / round(d * 1000)))
    return str(math.ceil(value / d))


def downward_payload(pod: Obj, source: Obj, default_mode: int, pod_ip: str,
                     allocatable: dict[str, float]) -> dict[str, FileProjection]:
    """The files of a ``downwardAPI`` volume (or projected source): one per item."""
    containers = {c["name"]: c for c in (pod.get("spec") or {}).get("containers") or []}
    out: dict[str, FileProjection] = {}
    for it in source.get("items") or []:
        mode = it.get("mode")
        mode = default_mode if mode is None else int(mode)
        if "fieldRef" in it:
            text = field_value(pod, it["fieldRef"]["fieldPath"], pod_ip)
        elif "resourceFieldRef" in it:
            ref = it["resourceFieldRef"]
            c = containers.get(ref.get("containerName") or "")
            if c is None:
                raise ProjectionError(f"container {ref.get('containerName')!r} not found in the pod")
            text = resource_value(c, ref["resource"], ref.get("divisor"), allocatable)
        else:
            raise ProjectionError(f"downwardAPI item {it.get('path')!r} has neither fieldRef nor resourceFieldRef")
        out[it["path"]] = FileProjection(text.encode(), mode)
    return out


def api_data_sources(volume: Obj) -> list[tuple[str, str]]:
    """(kind, name) of every ConfigMap/Secret a volume reads, in order.

    >>> api_data_sources({"projected": {"sources": [{"configMap": {"name": "a"}}, {"secret": {"name": "s"}}]}})
    [('ConfigMap', 'a'), ('Secret', 's')]
    """
    if "configMap" in volume:
        return [("ConfigMap", volume["configMap"].get("name", ""))]
    if "secret" in volume:
        return [("Secret", volume["secret"].get("secretName", ""))]
    out = []
    for s in (volume.get("projected") or {}).get("sources") or []:
        if "configMap" in s:
            out.append(("ConfigMap", s["configMap"].get("name", "")))
        elif "secret" in s:
            out.append(("Secret", s["secret"].get("name", "")))
        elif "serviceAccountToken" in s:
            out.append((SA_TOKEN, token_source_key(s["serviceAccountToken"])))
    return out


def token_source_key(src: Obj) -> str:
    """How a ``serviceAccountToken`` source is keyed among a volume's objects: audience and lifetime."""
    return f"{src.get('audience') or ''}|{int(src.get('expirationSeconds') or 3600)}"


def volume_payload(volume: Obj, pod: Obj, objects: dict[tuple[str, str], Obj | None], pod_ip: str,
                   allocatable: dict[str, float]) -> dict[str, FileProjection]:
    """All files of one API-data volume (``configMap``, ``secret``, ``downwardAPI``, ``projected``).

    ``objects`` maps each ``api_data_sources`` entry to the object (None if it does not exist).
    A projected volume merges its sources in order; two sources writing the same
    path is an error, as upstream.
    """
    if "configMap" in volume or "secret" in volume:
        kind = "ConfigMap" if "configMap" in volume else "Secret"
        src = volume["configMap" if kind == "ConfigMap" else "secret"]
        mode = src.get("defaultMode")
        return key_payload(kind, objects.get(api_data_sources(volume)[0]), src,
                           DEFAULT_MODE if mode is None else int(mode))
    if "downwardAPI" in volume:
        src = volume["downwardAPI"]
        mode = src.get("defaultMode")
        return downward_payload(pod, src, DEFAULT_MODE if mode is None else int(mode), pod_ip, allocatable)
    if "projected" in volume:
        proj = volume["projected"]
        mode = proj.get("defaultMode")
        mode = DEFAULT_MODE if mode is None else int(mode)
        out: dict[str, FileProjection] = {}
        for s in proj.get("sources") or []:
            if "configMap" in s:
                part = key_payload("ConfigMap", objects.get(("ConfigMap", s["configMap"].get("name", ""))),
                                   s["configMap"], mode)
            elif "secret" in s:
                part = key_payload("Secret", objects.get(("Secret", s["secret"].get("name", ""))), s["secret"], mode)
            elif "downwardAPI" in s:
                part = downward_payload(pod, s["downwardAPI"], mode, pod_ip, allocatable)
            elif "serviceAccountToken" in s:
                # the kubelet's TokenRequest answer (``objects`` holds {"token": ...}); the file gets the
                # volume's defaultMode, as upstream's projected volume plugin
                tr = objects.get((SA_TOKEN, token_source_key(s["serviceAccountToken"])))
                if not tr or not tr.get("token"):
                    raise ProjectionError("failed to fetch token: no token for the pod's service account")
                part = {s["serviceAccountToken"].get("path") or "token": FileProjection(tr["token"].encode(), mode)}
            else:
                other = ", ".join(s) or "an empty source"
                raise ProjectionError(f"projected volume source {other} is not supported by kubetui's kubelet "
                                      "(configMap, secret, downwardAPI and serviceAccountToken are)")
            clash = set(part) & set(out)
            if clash:
                raise ProjectionError(f"projected volume: several sources write {sorted(clash)[0]!r}")
            out.update(part)
        return out
    raise ProjectionError(f"not an API data volume: {', '.join(k for k in volume if k != 'name')}")
