"""From a Pod spec to what the runtime needs: env, mounts, limits (upstream: ``pkg/kubelet/kubelet_pods.go``).

The kubelet resolves ``env`` (values, ``fieldRef``, ``resourceFieldRef``,
``configMapKeyRef``, ``secretKeyRef``, ``envFrom``), turns ``volumeMounts``
into bind mounts of the volume directories ``volumes.PodVolumes`` prepared
(``subPath``, ``subPathExpr``, ``readOnly``), and ``resources.limits`` into
cgroup numbers.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from kubetui.kubelet import projection
from kubetui.kubelet.projection import parse_quantity
from kubetui.kubelet.volumes import ObjectCache
from kubetui.runtime.cri import ContainerConfig, Mount, PodSandboxConfig

__all__ = ["parse_quantity", "millicores", "SpecError", "container_limits", "sandbox_config", "container_env",
           "mounts", "container_config"]


def millicores(q: Any) -> int:
    return int(round(parse_quantity(q) * 1000))


class SpecError(Exception):
    """A container cannot be configured (upstream: CreateContainerConfigError)."""


def container_limits(c: dict) -> tuple[int, int]:
    lim = (c.get("resources") or {}).get("limits") or {}
    mem = int(parse_quantity(lim["memory"])) if "memory" in lim else 0
    cpu = millicores(lim["cpu"]) if "cpu" in lim else 0
    return mem, cpu


def sandbox_config(pod: dict) -> PodSandboxConfig:
    meta, spec = pod["metadata"], pod["spec"]
    mem = cpu = 0
    limited_mem = limited_cpu = True
    for c in spec.get("containers") or []:
        m, k = container_limits(c)
        mem, cpu = mem + m, cpu + k
        limited_mem &= m > 0
        limited_cpu &= k > 0
    dns = spec.get("dnsConfig") or {}
    return PodSandboxConfig(
        name=meta["name"], namespace=meta.get("namespace", "default"), uid=meta.get("uid", ""),
        hostname=spec.get("hostname") or meta["name"], host_network=bool(spec.get("hostNetwork")),
        labels=dict(meta.get("labels") or {}),
        pid_mode="NODE" if spec.get("hostPID") else "POD" if spec.get("shareProcessNamespace") else "CONTAINER",
        memory_limit_bytes=mem if limited_mem else 0, cpu_millicores=cpu if limited_cpu else 0,
        dns_servers=list(dns.get("nameservers") or []), dns_searches=list(dns.get("searches") or []))


def _expand(value: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references to earlier variables, as Kubernetes expands them; ``$$`` escapes."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


def _object_data(kind: str, obj: dict) -> dict[str, str]:
    if kind == "Secret":
        return {k: base64.b64decode(v or "").decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


async def container_env(objects: ObjectCache, pod: dict, c: dict, pod_ip: str, host_ip: str,
                        allocatable: dict[str, float] | None = None,
                        service_env: dict[str, str] | None = None) -> dict[str, str]:
    """A container's environment, in upstream's order (``makeEnvironmentVariables``).

    The service variables first, then ``envFrom`` (ConfigMaps and Secrets, each key
    a variable, ``prefix`` prepended; keys that are not valid names are skipped),
    then ``env`` (later wins; ``$(VAR)`` expands what came before). A missing
    object or key raises ``SpecError`` with the kubelet's words (the container
    waits in ``CreateContainerConfigError``) unless the reference is ``optional``.
    Env is read once, when the container is created: a later update of the
    ConfigMap does not reach a running container (mounted files do).
    """
    ns = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = dict(service_env or {})
    for src in c.get("envFrom") or []:
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if field not in src:
                continue
            ref = src[field]
            obj = await objects.get(kind, ns, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                raise SpecError(projection.not_found(kind, ref.get("name", "")))
            for k, v in _object_data(kind, obj).items():
                name = src.get("prefix", "") + k
                if _ENV_NAME.fullmatch(name):
                    env[name] = v
    for e in c.get("env") or []:
        if "valueFrom" not in e:
            env[e["name"]] = _expand(str(e.get("value", "")), env)
            continue
        vf = e.get("valueFrom") or {}
        try:
            if "fieldRef" in vf:
                env[e["name"]] = projection.field_value(pod, vf["fieldRef"]["fieldPath"], pod_ip, host_ip)
            elif "resourceFieldRef" in vf:
                ref = vf["resourceFieldRef"]
                target = c
                if ref.get("containerName"):
                    target = next((x for x in pod["spec"].get("containers") or []
                                   if x["name"] == ref["containerName"]), c)
                env[e["name"]] = projection.resource_value(target, ref["resource"], ref.get("divisor"),
                                                           allocatable or {})
            elif "configMapKeyRef" in vf or "secretKeyRef" in vf:
                kind = "ConfigMap" if "configMapKeyRef" in vf else "Secret"
                ref = vf["configMapKeyRef" if kind == "ConfigMap" else "secretKeyRef"]
                obj = await objects.get(kind, ns, ref.get("name", ""))
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise SpecError(projection.not_found(kind, ref.get("name", "")))
                data = _object_data(kind, obj)
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise SpecError(projection.missing_key(kind, ns, ref.get("name", ""), ref["key"]))
                env[e["name"]] = data[ref["key"]]
            else:
                env[e["name"]] = ""
        except projection.ProjectionError as err:
            raise SpecError(str(err)) from None
    return env


def within(path: str, root: str) -> bool:
    """Is ``path`` (symlinks resolved) inside ``root``? A subPath must not escape its volume.

    >>> within("/v/data/a", "/v/data"), within("/v/data/../etc", "/v/data")
    (True, False)
    """
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip("/") + "/")


def mounts(c: dict, volumes: dict[str, str], env: dict[str, str] | None = None,
           read_only_volumes: set[str] | frozenset[str] = frozenset()) -> list[Mount]:
    """The container's bind mounts (upstream ``makeMounts``).

    ``subPath`` mounts one entry of the volume (created as a directory when
    missing); ``subPathExpr`` expands ``$(VAR)`` from the container's env first.
    ConfigMap, Secret, downwardAPI and projected volumes are always read-only.
    """
    out = []
    for vm in c.get("volumeMounts") or []:
        if vm["name"] not in volumes:
            raise SpecError(f'cannot find volume "{vm["name"]}" to mount into container "{c["name"]}"')
        host = volumes[vm["name"]]
        sub = vm.get("subPath") or ""
        if vm.get("subPathExpr"):
            sub = _expand(vm["subPathExpr"], env or {})
        if sub:
            if os.path.isabs(sub) or ".." in sub.split("/"):
                raise SpecError(f"subPath {sub!r} must be a relative path without '..'")
            path = os.path.join(host, sub)
            if not os.path.lexists(path):
                os.makedirs(path, mode=0o777, exist_ok=True)
            if not within(path, host):
                raise SpecError(f'subpath "{os.path.realpath(path)}" not within volume path "{host}"')
            # bind the target itself: a symlink (a ConfigMap key) is resolved once, at mount time
            host = os.path.realpath(path)
        read_only = bool(vm.get("readOnly")) or vm["name"] in read_only_volumes
        out.append(Mount(vm["mountPath"], host, read_only))
    return out


def security_settings(c: dict, pod_security_context: dict | None) -> dict:
    """runAsUser, runAsGroup, runAsNonRoot from the container's securityContext, else the pod's
    (upstream ``determineEffectiveSecurityContext``); readOnlyRootFilesystem is the container's only."""
    own, pod = c.get("securityContext") or {}, pod_security_context or {}

    def pick(field: str):
        return own[field] if own.get(field) is not None else pod.get(field)
    return {"run_as_user": pick("runAsUser"), "run_as_group": pick("runAsGroup"),
            "run_as_non_root": bool(pick("runAsNonRoot")),
            "read_only_root_filesystem": bool(own.get("readOnlyRootFilesystem"))}


def container_config(c: dict, env: dict[str, str], volume_paths: dict[str, str],
                     attempt: int, read_only_volumes: set[str] | frozenset[str] = frozenset(),
                     pod_security_context: dict | None = None) -> ContainerConfig:
    mem, cpu = container_limits(c)
    return ContainerConfig(**security_settings(c, pod_security_context),
        name=c["name"], image=c.get("image", ""),
        command=[_expand(a, env) for a in c.get("command") or []],
        args=[_expand(a, env) for a in c.get("args") or []],
        env=env, working_dir=c.get("workingDir", ""), mounts=mounts(c, volume_paths, env, read_only_volumes),
        memory_limit_bytes=mem, cpu_millicores=cpu, stdin=bool(c.get("stdin")),
        tty=bool(c.get("tty")), attempt=attempt)
