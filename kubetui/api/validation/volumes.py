"""Pod volume validation: one volume source each, and every source's own rules.

Upstream: pkg/apis/core/validation/validation.go (``validateVolumeSource``,
``validateSecretVolumeSource``, ``validateConfigMapVolumeSource``,
``validateKeyToPath``, ``validateDownwardAPIVolumeSource``,
``validateDownwardAPIVolumeFile``, ``validateProjectionSources``,
``ValidateLocalNonReservedPath``). Field paths and messages are upstream's,
quirks included: a downward API item's errors are reported on the
``downwardAPI`` (or projected source's ``downwardAPI``) path without the
item's index, exactly as kube-apiserver reports them.

The item rules differ by source, which is the point of this module:

- ``secret``/``configMap`` items (``KeyToPath``) need ``key`` and ``path``;
- ``downwardAPI`` items (``DownwardAPIVolumeFile``) need ``path`` and exactly
  one of ``fieldRef`` (a pod field) or ``resourceFieldRef`` (a container's
  request or limit), and have no ``key``.
"""

from __future__ import annotations

from typing import Any

from kubetui.api.quantity import format_quantity, parse_quantity
from kubetui.api.validation import names
from kubetui.api.validation.field import (
    Cause, as_dict, child, dict_items, duplicate, forbidden, index, invalid, is_int, not_supported, required,
)

# Every volume source, in the order upstream's validateVolumeSource checks them:
# the first one present counts, each later one is "may not specify more than 1
# volume type". The path upstream names for a second source is not always the
# JSON name (``downwarAPI`` and ``cephFS`` are upstream's own spellings).
VOLUME_SOURCE_ORDER = (
    ("emptyDir", "emptyDir"), ("hostPath", "hostPath"), ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"), ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"), ("nfs", "nfs"), ("iscsi", "iscsi"), ("glusterfs", "glusterfs"),
    ("flocker", "flocker"), ("persistentVolumeClaim", "persistentVolumeClaim"), ("rbd", "rbd"),
    ("cinder", "cinder"), ("cephfs", "cephFS"), ("quobyte", "quobyte"), ("downwardAPI", "downwarAPI"),
    ("fc", "fc"), ("flexVolume", "flexVolume"), ("configMap", "configMap"), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("storageos", "storageos"),
    ("projected", "projected"), ("scaleIO", "scaleIO"), ("csi", "csi"), ("ephemeral", "ephemeral"),
    ("image", "image"),
)
VOLUME_SOURCES = tuple(s for s, _ in VOLUME_SOURCE_ORDER)

# sets.List(supportedHostPathTypes): sorted, the empty string included
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate",
                   "Socket")
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"

# validVolumeDownwardAPIFieldPathExpressions (sorted, as sets.List prints them)
DOWNWARD_API_VOLUME_FIELDS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                              "metadata.uid")
# pods.ConvertDownwardAPIFieldLabel: the pod fields the downward API knows at all
DOWNWARD_API_LABELS = ("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                       "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                       "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
                       "status.podIPs")
# validContainerResourceFieldPathExpressions, plus the hugepages prefixes volumes accept
CONTAINER_RESOURCE_FIELDS = ("limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                             "requests.ephemeral-storage", "requests.memory")
HUGEPAGES_PREFIXES = ("limits.hugepages-", "requests.hugepages-")
_BYTES_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
_BYTES_DIVISOR_TEXT = ", ".join(_BYTES_DIVISORS)


# -- paths ------------------------------------------------------------------------

def _no_backsteps(target: str, path: str) -> list[Cause]:
    """validatePathNoBacksteps: no ``..`` element (one error is enough)."""
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(path, target, "must not contain '..'")]
    return []


def local_descending_path(target: str, path: str) -> list[Cause]:
    """validateLocalDescendingPath: relative, without ``..`` elements."""
    errs = [invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return errs + _no_backsteps(target, path)


def local_non_reserved_path(target: str, path: str) -> list[Cause]:
    """ValidateLocalNonReservedPath: also not starting with ``..`` (``..data`` is the kubelet's)."""
    errs = local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _mode(value: Any, path: str) -> list[Cause]:
    if is_int(value) and not 0 <= value <= 0o777:
        return [invalid(path, value, FILE_MODE_ERROR)]
    return []


# -- items ----------------------------------------------------------------------------

def key_to_path(item: dict[str, Any], path: str) -> list[Cause]:
    """validateKeyToPath: a Secret's or ConfigMap's key projected to a file."""
    errs: list[Cause] = []
    if not item.get("key"):
        errs.append(required(child(path, "key"), ""))
    target = str(item.get("path") or "")
    if not target:
        errs.append(required(child(path, "path"), ""))
    errs += local_non_reserved_path(target, child(path, "path"))
    return errs + _mode(item.get("mode"), child(path, "mode"))


def _split_subscript(field_path: str) -> tuple[str, str] | None:
    """fieldpath.SplitMaybeSubscriptedPath: ``metadata.labels['app']`` -> (metadata.labels, app)."""
    if not field_path.endswith("']"):
        return None
    i = field_path.find("['")
    if i < 0:
        return None
    return field_path[:i], field_path[i + 2:-2]


def object_field_selector(ref: dict[str, Any], valid: tuple[str, ...], path: str) -> list[Cause]:
    """validateObjectFieldSelector: ``fieldRef`` naming a pod field the downward API offers here."""
    version, field_path = ref.get("apiVersion"), ref.get("fieldPath")
    if not version:
        return [required(child(path, "apiVersion"), "")]
    if not field_path:
        return [required(child(path, "fieldPath"), "")]
    field_path = str(field_path)
    split = _split_subscript(field_path)
    base = split[0] if split else field_path
    if version != "v1":
        return [invalid(child(path, "fieldPath"), field_path,
                        f"error converting fieldPath: unsupported pod version: {version}")]
    if base not in DOWNWARD_API_LABELS or (split and base not in ("metadata.annotations", "metadata.labels")):
        return [invalid(child(path, "fieldPath"), field_path,
                        f"error converting fieldPath: field label not supported: {field_path}")]
    if split:
        sub = split[1].lower() if base == "metadata.annotations" else split[1]
        return [invalid(path, sub, m) for m in names.is_qualified_name(sub)]
    if base not in valid:
        return [not_supported(child(path, "fieldPath"), base, valid)]
    return []


def _divisor(resource: str, divisor: Any, path: str) -> list[Cause]:
    """validateContainerResourceDivisor: only whole units make sense as a divisor."""
    if divisor in (None, ""):
        return []
    try:
        if parse_quantity(divisor) == 0:
            return []
        shown = format_quantity(divisor)
    except ValueError:
        return []  # an unparsable quantity is refused when the body is decoded
    p = child(path, "divisor")
    if resource in ("limits.cpu", "requests.cpu"):
        if shown not in ("1m", "1"):
            return [invalid(p, resource, "only divisor's values 1m and 1 are supported with the cpu resource")]
    elif resource in ("limits.memory", "requests.memory"):
        if shown not in _BYTES_DIVISORS:
            return [invalid(p, resource, f"only divisor's values {_BYTES_DIVISOR_TEXT} are supported with the "
                                         f"memory resource")]
    elif resource in ("limits.ephemeral-storage", "requests.ephemeral-storage"):
        if shown not in _BYTES_DIVISORS:
            return [invalid(p, resource, f"only divisor's values {_BYTES_DIVISOR_TEXT} are supported with the "
                                         f"local ephemeral storage resource")]
    if resource.startswith(HUGEPAGES_PREFIXES) and shown not in _BYTES_DIVISORS:
        return [invalid(p, resource, f"only divisor's values {_BYTES_DIVISOR_TEXT} are supported with the "
                                     f"hugepages resource")]
    return []


def resource_field_selector(ref: dict[str, Any], path: str, *, volume: bool,
                            prefixes: tuple[str, ...] = ()) -> list[Cause]:
    """validateContainerResourceFieldSelector: ``resourceFieldRef`` (a volume must name the container)."""
    errs: list[Cause] = []
    resource = str(ref.get("resource") or "")
    if volume and not ref.get("containerName"):
        errs.append(required(child(path, "containerName"), ""))
    elif not resource:
        errs.append(required(child(path, "resource"), ""))
    elif resource not in CONTAINER_RESOURCE_FIELDS and not resource.startswith(prefixes or ("\0",)):
        errs.append(not_supported(child(path, "resource"), resource, CONTAINER_RESOURCE_FIELDS))
    return errs + _divisor(resource, ref.get("divisor"), path)


def downward_api_file(item: dict[str, Any], path: str) -> list[Cause]:
    """validateDownwardAPIVolumeFile: ``path`` plus exactly one of fieldRef/resourceFieldRef.

    ``path`` here is the volume source's path, not the item's: upstream reports
    these errors without the item index.
    """
    errs: list[Cause] = []
    target = str(item.get("path") or "")
    if not target:
        errs.append(required(child(path, "path"), ""))
    errs += local_non_reserved_path(target, child(path, "path"))
    field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
    if field_ref is not None:
        errs += object_field_selector(as_dict(field_ref), DOWNWARD_API_VOLUME_FIELDS, child(path, "fieldRef"))
        if resource_ref is not None:
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified "
                                                  "simultaneously"))
    elif resource_ref is not None:
        errs += resource_field_selector(as_dict(resource_ref), child(path, "resourceFieldRef"), volume=True,
                                        prefixes=HUGEPAGES_PREFIXES)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    return errs + _mode(item.get("mode"), child(path, "mode"))


# -- sources ------------------------------------------------------------------------

def _projected(body: dict[str, Any], path: str) -> list[Cause]:
    """validateProjectedVolumeSource/validateProjectionSources: file paths unique across sources."""
    errs = _mode(body.get("defaultMode"), child(path, "defaultMode"))
    seen: set[str] = set()

    def claim(target: str, value: Any) -> None:
        if target in seen:
            errs.append(invalid(path, value, "conflicting duplicate paths"))
        seen.add(target)

    for i, source in dict_items(body.get("sources")):
        src_path = index(child(path, "sources"), i)
        kinds = 0
        for kind, name_field in (("secret", "name"), ("configMap", "name")):
            if source.get(kind) is None:
                continue
            kinds += 1
            sub = as_dict(source[kind])
            p = child(src_path, kind)
            if not sub.get(name_field):
                errs.append(required(child(p, name_field), ""))
            for j, item in dict_items(sub.get("items")):
                errs += key_to_path(item, index(child(p, "items"), j))
                if item.get("path"):
                    claim(str(item["path"]), sub.get(name_field) or "")
        if source.get("downwardAPI") is not None:
            kinds += 1
            p = child(src_path, "downwardAPI")
            for _, item in dict_items(as_dict(source["downwardAPI"]).get("items")):
                errs += downward_api_file(item, p)
                if item.get("path"):
                    claim(str(item["path"]), str(item["path"]))
        if source.get("serviceAccountToken") is not None:
            kinds += 1
            sat = as_dict(source["serviceAccountToken"])
            p = child(src_path, "serviceAccountToken")
            exp = sat.get("expirationSeconds", 3600)
            if is_int(exp) and exp < 600:
                errs.append(invalid(child(p, "expirationSeconds"), exp,
                                    "may not specify a duration less than 10 minutes"))
            if is_int(exp) and exp > 1 << 32:
                errs.append(invalid(child(p, "expirationSeconds"), exp,
                                    "may not specify a duration larger than 2^32 seconds"))
            # upstream names the projected volume's path here, not the source's
            if not sat.get("path"):
                errs.append(required(child(path, "path"), ""))
            else:
                errs += local_non_reserved_path(str(sat["path"]), child(path, "path"))
        if source.get("clusterTrustBundle") is not None:
            kinds += 1
            ctb = as_dict(source["clusterTrustBundle"])
            p = child(src_path, "clusterTrustBundle")
            if ctb.get("name") is not None and ctb.get("signerName") is not None:
                errs.append(invalid(p, ctb, "only one of name and signerName may be used"))
            elif ctb.get("name") is None and ctb.get("signerName") is None:
                errs.append(required(p, "either name or signerName must be specified"))
            target = str(ctb.get("path") or "")
            if not target:
                errs.append(required(child(p, "path"), ""))
            errs += local_non_reserved_path(target, child(p, "path"))
            claim(target, target)
        if kinds > 1:
            errs.append(forbidden(src_path, "may not specify more than 1 volume type per source"))
    return errs


def _source(kind: str, body: dict[str, Any], path: str) -> list[Cause]:
    """The rules of one volume source (the ones kubetui's nodes can run, and the simple required fields)."""
    errs: list[Cause] = []
    if kind == "emptyDir":
        size = body.get("sizeLimit")
        try:
            negative = size is not None and parse_quantity(size) < 0
        except ValueError:
            negative = False  # refused when the body is decoded
        if negative:
            errs.append(forbidden(child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
    elif kind == "hostPath":
        if not body.get("path"):
            return [required(child(path, "path"), "")]
        errs += _no_backsteps(str(body["path"]), child(path, "path"))
        if body.get("type") is not None and body["type"] not in HOST_PATH_TYPES:
            errs.append(not_supported(child(path, "type"), body["type"], HOST_PATH_TYPES))
    elif kind == "gitRepo":
        if not body.get("repository"):
            errs.append(required(child(path, "repository"), ""))
        errs += local_descending_path(str(body.get("directory") or ""), child(path, "directory"))
    elif kind in ("secret", "configMap"):
        name_field = "secretName" if kind == "secret" else "name"
        if not body.get(name_field):
            errs.append(required(child(path, name_field), ""))
        errs += _mode(body.get("defaultMode"), child(path, "defaultMode"))
        for i, item in dict_items(body.get("items")):
            errs += key_to_path(item, index(child(path, "items"), i))
    elif kind == "downwardAPI":
        errs += _mode(body.get("defaultMode"), child(path, "defaultMode"))
        for _, item in dict_items(body.get("items")):
            errs += downward_api_file(item, path)
    elif kind == "projected":
        errs += _projected(body, path)
    elif kind == "persistentVolumeClaim":
        if not body.get("claimName"):
            errs.append(required(child(path, "claimName"), ""))
    elif kind == "nfs":
        for f in ("server", "path"):
            if not body.get(f):
                errs.append(required(child(path, f), ""))
        if not str(body.get("path") or "").startswith("/"):
            errs.append(invalid(child(path, "path"), body.get("path") or "", "must be an absolute path"))
    return errs


_SOURCE_RANK = {kind: i for i, (kind, _) in enumerate(VOLUME_SOURCE_ORDER)}


def validate_volume_source(volume: dict[str, Any], path: str) -> list[Cause]:
    """validateVolumeSource: exactly one source, then that source's rules."""
    errs: list[Cause] = []
    first = None
    # the sources the volume has, in upstream's order (a volume has a name and one source:
    # looking its few keys up beats asking it for each of the 30 kinds)
    present = sorted((_SOURCE_RANK[k], k) for k, v in volume.items() if v is not None and k in _SOURCE_RANK)
    for rank, kind in present:
        shown = VOLUME_SOURCE_ORDER[rank][1]
        if first is not None:
            errs.append(forbidden(child(path, shown), "may not specify more than 1 volume type"))
            continue
        first = kind
        errs += _source(kind, as_dict(volume[kind]), child(path, kind))
    if first is None:
        errs.append(required(path, "must specify a volume type"))
    return errs


def validate_volumes(volumes: Any, path: str) -> tuple[set[str], list[Cause]]:
    """ValidateVolumes: the names of the valid volumes (mounts may only use those), and the errors."""
    errs: list[Cause] = []
    valid: set[str] = set()
    for i, v in dict_items(volumes):
        p = index(path, i)
        el = validate_volume_source(v, p)
        name = v.get("name")
        if not name:
            el.append(required(child(p, "name"), ""))
        else:
            el += [invalid(child(p, "name"), name, m) for m in names.is_dns1123_label(str(name))]
        if name in valid:
            el.append(duplicate(child(p, "name"), name))
        if el:
            errs += el
        else:
            valid.add(name)
    return valid, errs
