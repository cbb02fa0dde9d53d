"""From a Pod spec to what the runtime needs: env, volumes, limits (upstream: ``pkg/kubelet/kubelet_pods.go``,
``pkg/kubelet/volumemanager``).

The kubelet resolves ``env`` (values, ``fieldRef``, ``configMapKeyRef``,
``secretKeyRef``, ``envFrom``), prepares each volume as a directory on the
node (``emptyDir``, ``hostPath``, ``configMap``, ``secret``, and a
``persistentVolumeClaim`` bound to a hostPath/local PersistentVolume), and
turns ``resources.limits`` into cgroup numbers.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from typing import Any

from kubetui.kubelet.apiclient import APIClient, APIError
from kubetui.runtime.cri import ContainerConfig, Mount, PodSandboxConfig

_SUFFIX = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
           "k": 10 ** 3, "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15,
           "E": 10 ** 18, "m": 0.001, "": 1}


def parse_quantity(q: Any) -> float:
    """``"64Mi"`` -> 67108864, ``"250m"`` -> 0.25 (Kubernetes resource.Quantity, the common forms)."""
    m = re.fullmatch(r"\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(q))
    if not m or m.group(2) not in _SUFFIX:
        raise ValueError(f"quantities must match the regular expression, got {q!r}")
    return float(m.group(1)) * _SUFFIX[m.group(2)]


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
        memory_limit_bytes=mem if limited_mem else 0, cpu_millicores=cpu if limited_cpu else 0,
        dns_servers=list(dns.get("nameservers") or []), dns_searches=list(dns.get("searches") or []))


def _field_ref(pod: dict, path: str, pod_ip: str, host_ip: str) -> str:
    meta = pod["metadata"]
    simple = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "spec.nodeName": pod["spec"].get("nodeName", ""),
              "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
              "status.podIP": pod_ip, "status.hostIP": host_ip, "status.podIPs": pod_ip,
              "status.hostIPs": host_ip}
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise SpecError(f"unsupported fieldRef fieldPath {path!r}")


def _expand(value: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references to earlier variables, as Kubernetes expands them; ``$$`` escapes."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


async def _key_ref(api: APIClient, ns: str, kind: str, ref: dict) -> str | None:
    res = "configmaps" if kind == "configMap" else "secrets"
    try:
        obj = await api.get(f"/api/v1/namespaces/{ns}/{res}/{ref['name']}")
    except APIError as e:
        if e.not_found and ref.get("optional"):
            return None
        raise SpecError(f'{kind} "{ref["name"]}" not found') from e
    data = obj.get("data") or {}
    if ref["key"] not in data:
        if ref.get("optional"):
            return None
        raise SpecError(f"couldn't find key {ref['key']} in {kind[0].upper() + kind[1:]} "
                        f"{ns}/{ref['name']}")
    v = data[ref["key"]]
    return base64.b64decode(v).decode(errors="replace") if res == "secrets" else v


async def container_env(api: APIClient, pod: dict, c: dict, pod_ip: str, host_ip: str) -> dict[str, str]:
    ns = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    for src in c.get("envFrom") or []:
        for kind, res in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
            if kind in src:
                ref = src[kind]
                try:
                    obj = await api.get(f"/api/v1/namespaces/{ns}/{res}/{ref['name']}")
                except APIError as e:
                    if e.not_found and ref.get("optional"):
                        continue
                    raise SpecError(f'{kind[:-3]} "{ref["name"]}" not found') from e
                for k, v in (obj.get("data") or {}).items():
                    env[src.get("prefix", "") + k] = (base64.b64decode(v).decode(errors="replace")
                                                      if res == "secrets" else v)
    for e in c.get("env") or []:
        if "value" in e:
            env[e["name"]] = _expand(str(e["value"]), env)
            continue
        vf = e.get("valueFrom") or {}
        if "fieldRef" in vf:
            env[e["name"]] = _field_ref(pod, vf["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "configMapKeyRef" in vf or "secretKeyRef" in vf:
            kind = "configMap" if "configMapKeyRef" in vf else "secret"
            v = await _key_ref(api, ns, kind, vf[kind + "KeyRef"])
            if v is not None:
                env[e["name"]] = v
        elif "resourceFieldRef" in vf:
            mem, cpu = container_limits(c)
            res = vf["resourceFieldRef"]["resource"]
            env[e["name"]] = str(mem if res == "limits.memory" else max(1, -(-cpu // 1000)))
        else:
            env[e["name"]] = ""
    return env


async def prepare_volumes(api: APIClient, pod: dict, pod_dir: Path) -> dict[str, str]:
    """Make each volume a directory on the node; returns volume name -> host path."""
    ns = pod["metadata"].get("namespace", "default")
    out: dict[str, str] = {}
    for v in pod["spec"].get("volumes") or []:
        name = v["name"]
        if "emptyDir" in v:
            d = pod_dir / "volumes" / "kubernetes.io~empty-dir" / name
            d.mkdir(parents=True, exist_ok=True)
            out[name] = str(d)
        elif "hostPath" in v:
            hp = v["hostPath"]
            path, typ = hp["path"], hp.get("type", "")
            if typ == "DirectoryOrCreate" or (not typ and not os.path.exists(path)):
                os.makedirs(path, exist_ok=True)
            elif typ == "Directory" and not os.path.isdir(path):
                raise SpecError(f"hostPath type check failed: {path} is not a directory")
            out[name] = path
        elif "configMap" in v or "secret" in v:
            kind = "configMap" if "configMap" in v else "secret"
            src = v[kind]
            ref_name = src.get("name") or src.get("secretName")
            res = "configmaps" if kind == "configMap" else "secrets"
            d = pod_dir / "volumes" / f"kubernetes.io~{kind.lower()}" / name
            try:
                obj = await api.get(f"/api/v1/namespaces/{ns}/{res}/{ref_name}")
            except APIError as e:
                if e.not_found and src.get("optional"):
                    obj = {}
                else:
                    raise SpecError(f'{kind} "{ref_name}" not found') from e
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)
            data = obj.get("data") or {}
            items = src.get("items") or [{"key": k, "path": k} for k in data]
            for it in items:
                if it["key"] not in data:
                    continue
                raw = data[it["key"]]
                blob = base64.b64decode(raw) if res == "secrets" else raw.encode()
                target = d / it["path"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
            out[name] = str(d)
        elif "persistentVolumeClaim" in v:
            claim = v["persistentVolumeClaim"]["claimName"]
            try:
                pvc = await api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}")
            except APIError as e:
                raise SpecError(f'persistentvolumeclaim "{claim}" not found') from e
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            if not pv_name:
                raise SpecError(f'persistentvolumeclaim "{claim}" is not bound')
            pv = await api.get(f"/api/v1/persistentvolumes/{pv_name}")
            pspec = pv.get("spec") or {}
            path = (pspec.get("hostPath") or pspec.get("local") or {}).get("path")
            if not path:
                raise SpecError(f"PersistentVolume {pv_name} is neither hostPath nor local")
            os.makedirs(path, exist_ok=True)
            out[name] = path
        else:
            raise SpecError(f"volume {name!r}: unsupported volume type "
                            f"{', '.join(k for k in v if k != 'name')}")
    return out


def mounts(c: dict, volumes: dict[str, str]) -> list[Mount]:
    out = []
    for vm in c.get("volumeMounts") or []:
        if vm["name"] not in volumes:
            raise SpecError(f'unable to find volume "{vm["name"]}" for volumeMount')
        host = volumes[vm["name"]]
        if vm.get("subPath"):
            host = os.path.join(host, vm["subPath"])
            os.makedirs(host, exist_ok=True)
        out.append(Mount(vm["mountPath"], host, bool(vm.get("readOnly"))))
    return out


def container_config(c: dict, env: dict[str, str], volume_paths: dict[str, str],
                     attempt: int) -> ContainerConfig:
    mem, cpu = container_limits(c)
    return ContainerConfig(
        name=c["name"], image=c.get("image", ""),
        command=[_expand(a, env) for a in c.get("command") or []],
        args=[_expand(a, env) for a in c.get("args") or []],
        env=env, working_dir=c.get("workingDir", ""), mounts=mounts(c, volume_paths),
        memory_limit_bytes=mem, cpu_millicores=cpu, stdin=bool(c.get("stdin")), attempt=attempt)
