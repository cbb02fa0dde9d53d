"""Declarative lesson checks, evaluated against the cluster's state.

Where Killercoda and Instruqt run a verify script and learn only "exit 1",
a kubetui check says *what* it expects of the cluster, so the engine can say
what it saw: "deployment/web: .status.readyReplicas is 1, want ≥ 3". Each
check has a teacher-written ``fail`` message (the diagnosis: what is wrong and
where to look) and the engine adds the observation.

Kinds and their options (``namespace`` defaults to ``default`` everywhere):

- ``exists``: ``resource``, ``name`` [, ``absent: true``] — an object exists (or is gone).
- ``field``: ``resource``, ``name``, ``path`` (kubectl JSONPath) and one comparison.
- ``count``: ``resource`` [, ``selector``, ``field_selector``, ``where`` (a list of
  ``{path, <comparison>}``), ``all_namespaces``] and a comparison on the count (default ``gte: 1``).
- ``endpoints``: ``service`` and ``ready_gte`` / ``ready`` (exact) / ``not_ready_gte``: ready
  addresses in the Service's EndpointSlices, as kube-proxy would route to them.
- ``http``: ``from`` (``pod/NAME`` or a label selector), ``url`` [, ``requests``, ``status``
  (200 or ``error``), ``distinct_backends_gte``, ``body_matches``] — requests made from inside a
  pod with ``kubectl exec … wget`` (the real kubectl, through the cluster's kubeconfig).
- ``dns``: ``from``, ``name`` [, ``resolves: false``, ``address``] — ``getent hosts`` inside a pod
  (BusyBox's ``nslookup`` over resolv.conf's search list where the image has no ``getent``).
- ``event``: ``reason`` [, ``kind``, ``name`` (prefix), ``message_matches``] — an Event with
  that reason, recorded since the step started.
- ``shell``: ``run`` [, ``exit_code`` (0), ``output_matches``] — the fallback, with ``KUBECONFIG`` set.

Comparisons: ``equals``, ``not_equals``, ``matches`` (regex), ``contains``, ``gte``, ``lte``,
``gt``, ``lt`` (numbers or Kubernetes quantities like ``500m``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from kubetui.api import errors
from kubetui.client.base import Client
from kubetui.lessons.format import Check
from kubetui.lessons.jsonpath import JSONPathError, find

log = logging.getLogger(__name__)

COMPARISONS = ("equals", "not_equals", "matches", "contains", "gte", "lte", "gt", "lt")
_SYMBOL = {"equals": "=", "not_equals": "≠", "matches": "~", "contains": "∋", "gte": "≥", "lte": "≤",
           "gt": ">", "lt": "<"}
SHELL_TIMEOUT = 30.0


@dataclass
class CheckContext:
    """What checks need: the cluster's client, and for exec/shell checks its kubeconfig."""

    client: Client
    kubeconfig: Path | None = None
    kubectl: str = "kubectl"
    namespace: str = "default"
    env: dict[str, str] = field(default_factory=dict)
    # Event checks only count events at or after this wall-clock time (the step's start).
    since: float | None = None
    cwd: Path | None = None
    # ... and, more precisely, only Event writes after this resourceVersion (taken when the step
    # began): Event timestamps have whole seconds and aggregated events only bump ``count``.
    since_rv: int | None = None

    def shell_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.kubeconfig is not None:
            env["KUBECONFIG"] = str(self.kubeconfig)
        kubectl_dir = str(Path(self.kubectl).parent) if os.sep in self.kubectl else ""
        if kubectl_dir:
            env["PATH"] = kubectl_dir + os.pathsep + env.get("PATH", "")
        env.update(self.env)
        return env


@dataclass
class CheckResult:
    check: Check
    passed: bool
    # What the learner reads when this check fails (the teacher's diagnosis) ...
    message: str = ""
    # ... and what the engine observed, e.g. "found 1, want ≥ 3".
    detail: str = ""

    @property
    def label(self) -> str:
        return self.check.describe()


def _number(v: Any) -> Fraction | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return Fraction(v)
    try:
        from kubetui.api.quantity import parse_quantity
        return parse_quantity(str(v))
    except Exception:  # noqa: BLE001 - not a number: comparison fails below
        return None


def compare(value: Any, op: str, want: Any) -> bool:
    """One comparison (table-tested).

    >>> compare(3, "gte", 2), compare("True", "equals", True), compare("500m", "lt", 1)
    (True, True, True)
    """
    if op == "equals":
        if isinstance(want, bool) or isinstance(value, bool):
            return str(value).lower() == str(want).lower()
        return value == want or str(value) == str(want)
    if op == "not_equals":
        return not compare(value, "equals", want)
    if op == "matches":
        return value is not None and re.search(str(want), str(value)) is not None
    if op == "contains":
        if isinstance(value, (list, dict)):
            return want in value
        return value is not None and str(want) in str(value)
    a, b = _number(value), _number(want)
    if a is None or b is None:
        return False
    return {"gte": a >= b, "lte": a <= b, "gt": a > b, "lt": a < b}[op]


def comparisons(spec: dict[str, Any], default: tuple[str, Any] | None = None) -> list[tuple[str, Any]]:
    ops = [(op, spec[op]) for op in COMPARISONS if op in spec]
    if not ops and default is not None:
        ops = [default]
    return ops


def _show(v: Any) -> str:
    if isinstance(v, str):
        return repr(v) if v == "" or " " in v else v
    return str(v)


def _ops_text(ops: list[tuple[str, Any]]) -> str:
    return " and ".join(f"{_SYMBOL[o]} {_show(w)}" for o, w in ops)


async def evaluate(checks: list[Check], ctx: CheckContext) -> list[CheckResult]:
    """Every check, in order. The first failing result's ``message`` is the one to show."""
    return [await evaluate_one(c, ctx) for c in checks]


def first_failure(results: list[CheckResult]) -> CheckResult | None:
    return next((r for r in results if not r.passed), None)


async def evaluate_one(check: Check, ctx: CheckContext) -> CheckResult:
    fn = _KINDS[check.kind]
    try:
        ok, detail = await fn(check.spec, ctx)
    except errors.StatusError as e:
        ok, detail = False, f"the API server said: {e}"
    except JSONPathError as e:
        ok, detail = False, f"bad path in the lesson: {e}"
    except (OSError, asyncio.TimeoutError) as e:
        ok, detail = False, f"could not run the check: {e or e.__class__.__name__}"
    return CheckResult(check, ok, "" if ok else check.fail, detail)


# --- API checks -----------------------------------------------------------------------------------


def _ns(spec: dict[str, Any], ctx: CheckContext) -> str:
    return str(spec.get("namespace") or ctx.namespace)


async def _get(spec: dict[str, Any], ctx: CheckContext) -> dict[str, Any] | None:
    from kubetui.api.resources import resource_for
    res = resource_for(str(spec["resource"]))
    ns = _ns(spec, ctx) if res.namespaced else None
    try:
        return await ctx.client.get(str(spec["resource"]), str(spec["name"]), ns)
    except errors.NotFound:
        return None


async def check_exists(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    obj = await _get(spec, ctx)
    what = f"{spec['resource']}/{spec['name']}"
    if spec.get("absent"):
        if obj is None:
            return True, f"{what} is gone"
        if (obj.get("metadata") or {}).get("deletionTimestamp"):
            return False, f"{what} is terminating but still there"
        return False, f"{what} still exists"
    return (obj is not None), (f"{what} exists" if obj is not None else f"{what} not found")


async def check_field(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    obj = await _get(spec, ctx)
    what = f"{spec['resource']}/{spec['name']}"
    if obj is None:
        return False, f"{what} not found"
    values = find(obj, str(spec["path"]))
    ops = comparisons(spec, ("not_equals", None))
    if not values:
        return False, f"{what}: {spec['path']} is not set, want {_ops_text(ops)}"
    value = values[0] if len(values) == 1 else values
    ok = all(compare(value, op, want) for op, want in ops)
    return ok, f"{what}: {spec['path']} is {_show(value)}, want {_ops_text(ops)}"


def _where_ok(obj: dict[str, Any], where: list[dict[str, Any]]) -> bool:
    for cond in where:
        values = find(obj, str(cond["path"]))
        value = values[0] if len(values) == 1 else (values or None)
        if not all(compare(value, op, want) for op, want in comparisons(cond, ("not_equals", None))):
            return False
    return True


async def check_count(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    from kubetui.api.resources import resource_for
    res = resource_for(str(spec["resource"]))
    ns = None if (spec.get("all_namespaces") or not res.namespaced) else _ns(spec, ctx)
    lst = await ctx.client.list(str(spec["resource"]), ns, label_selector=spec.get("selector"),
                                field_selector=spec.get("field_selector"))
    items = lst.get("items") or []
    where = spec.get("where") or []
    if isinstance(where, dict):
        where = [where]
    if not spec.get("include_terminating"):
        items = [o for o in items if not (o.get("metadata") or {}).get("deletionTimestamp")]
    matching = [o for o in items if _where_ok(o, where)]
    ops = comparisons(spec, ("gte", 1))
    n = len(matching)
    ok = all(compare(n, op, want) for op, want in ops)
    sel = f" with {spec['selector']}" if spec.get("selector") else ""
    cond = (" where " + ", ".join(f"{w['path']} {_ops_text(comparisons(w, ('not_equals', None)))}"
                                  for w in where)) if where else ""
    names = ", ".join(sorted((o.get("metadata") or {}).get("name", "?") for o in matching)[:5])
    return ok, (f"{n} {spec['resource']}{sel}{cond} (want {_ops_text(ops)})" + (f": {names}" if names else ""))


async def check_endpoints(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    ns = _ns(spec, ctx)
    svc = str(spec["service"])
    try:
        await ctx.client.get("services", svc, ns)
    except errors.NotFound:
        return False, f"service/{svc} not found"
    ready, not_ready = set(), set()
    slices = await ctx.client.list("endpointslices", ns, label_selector=f"kubernetes.io/service-name={svc}")
    for s in slices.get("items") or []:
        for ep in s.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            addrs = tuple(ep.get("addresses") or ())
            (ready if cond.get("ready", True) else not_ready).add(addrs)
    ops = comparisons(spec, None)
    if "ready" in spec:
        ops.append(("equals", spec["ready"]))
    if "ready_gte" in spec or not ops and "not_ready_gte" not in spec:
        ops.append(("gte", spec.get("ready_gte", 1)))
    ok = all(compare(len(ready), op, want) for op, want in ops)
    if "not_ready_gte" in spec:
        ok = ok and len(not_ready) >= int(spec["not_ready_gte"])
    text = f"service/{svc}: {len(ready)} ready, {len(not_ready)} not ready endpoint(s)"
    if ops:
        text += f" (want ready {_ops_text(ops)})"
    return ok, text


def _event_time(ev: dict[str, Any]) -> float | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        v = ev.get(key)
        if v:
            break
    else:
        v = (ev.get("metadata") or {}).get("creationTimestamp")
    if not v:
        return None
    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _since_step(ev: dict[str, Any], ctx: CheckContext) -> bool:
    rv = (ev.get("metadata") or {}).get("resourceVersion")
    if ctx.since_rv is not None and str(rv).isdigit():
        return int(rv) > ctx.since_rv
    t = _event_time(ev)
    # Event times have whole seconds: allow one second of rounding.
    return ctx.since is None or t is None or t >= ctx.since - 1


async def current_rv(client: Client) -> int | None:
    """The store's revision now (an events list's resourceVersion), if it is a number.

    None when the API server cannot say: a list asks etcd for its current revision with a quorum
    read, which fails while etcd has lost its quorum (a step of the control-plane lesson starts
    then); event checks then count from the step's wall-clock start instead."""
    try:
        rv = ((await client.list("events", None, limit=1)).get("metadata") or {}).get("resourceVersion")
    except errors.StatusError as e:
        log.debug("no resourceVersion to start the step from: %s", e)
        return None
    return int(rv) if str(rv).isdigit() else None


async def check_event(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    ns = None if spec.get("all_namespaces") else _ns(spec, ctx)
    lst = await ctx.client.list("events", ns)
    hits = []
    for ev in lst.get("items") or []:
        if ev.get("reason") != spec["reason"]:
            continue
        inv = ev.get("involvedObject") or ev.get("regarding") or {}
        if spec.get("kind") and inv.get("kind") != spec["kind"]:
            continue
        if spec.get("name") and not str(inv.get("name", "")).startswith(str(spec["name"])):
            continue
        if spec.get("message_matches") and not re.search(str(spec["message_matches"]), ev.get("message") or ""):
            continue
        if spec.get("since_step", True) and not _since_step(ev, ctx):
            continue
        hits.append(ev)
    what = f"event {spec['reason']}" + (f" on {spec.get('kind', '')} {spec.get('name', '')}".rstrip()
                                        if spec.get("kind") or spec.get("name") else "")
    if hits:
        inv = hits[-1].get("involvedObject") or {}
        return True, f"{what}: {len(hits)} seen, latest on {inv.get('kind')}/{inv.get('name')}"
    return False, f"no {what} since this step started"


# --- checks that run commands -------------------------------------------------------------------------


async def run_command(argv: list[str] | str, ctx: CheckContext, timeout: float = SHELL_TIMEOUT,
                      stdin: bytes | None = None) -> tuple[int, str]:
    """Run a command (a string goes to ``bash -c``) with the cluster's KUBECONFIG; (exit code, output)."""
    if isinstance(argv, str):
        argv = ["bash", "-c", argv]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=ctx.shell_env(),
        cwd=str(ctx.cwd) if ctx.cwd else None, start_new_session=True)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except asyncio.TimeoutError:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
        await proc.wait()
        return 124, f"timed out after {timeout:.0f}s"
    return proc.returncode or 0, out.decode(errors="replace")


async def check_shell(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    code, out = await run_command(str(spec["run"]), ctx, float(spec.get("timeout_seconds", SHELL_TIMEOUT)))
    want = int(spec.get("exit_code", 0))
    last = out.strip().splitlines()[-1][:160] if out.strip() else ""
    if code != want:
        return False, f"exit code {code}, want {want}" + (f": {last}" if last else "")
    if spec.get("output_matches") and not re.search(str(spec["output_matches"]), out):
        return False, f"output does not match {spec['output_matches']!r}" + (f": {last}" if last else "")
    return True, f"exit code {code}"


async def _source_pod(spec: dict[str, Any], ctx: CheckContext) -> tuple[str | None, str]:
    """``from: pod/NAME`` or a label selector → a Running pod's name (or None and why)."""
    ns = _ns(spec, ctx)
    src = str(spec["from"])
    if src.startswith(("pod/", "pods/")):
        name = src.split("/", 1)[1]
        try:
            pod = await ctx.client.get("pods", name, ns)
        except errors.NotFound:
            return None, f"pod/{name} not found"
        pods = [pod]
    else:
        pods = (await ctx.client.list("pods", ns, label_selector=src)).get("items") or []
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp")]
    if not running:
        return None, f"no Running pod for {src} to run the request from"
    return running[0]["metadata"]["name"], ""


async def _exec(pod: str, spec: dict[str, Any], ctx: CheckContext, script: str, timeout: float) -> tuple[int, str]:
    argv = [ctx.kubectl, "exec", "-n", _ns(spec, ctx), pod]
    if spec.get("container"):
        argv += ["-c", str(spec["container"])]
    argv += ["--", "sh", "-c", script]
    if ctx.kubeconfig is not None:
        argv.insert(1, f"--kubeconfig={ctx.kubeconfig}")
    return await run_command(argv, ctx, timeout)


_BACKEND = re.compile(r"pod=(\S+)|\"pod\":\s*\"([^\"]+)\"")


async def check_http(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    pod, why = await _source_pod(spec, ctx)
    if pod is None:
        return False, why
    n = max(1, min(int(spec.get("requests", 1)), 100))
    url = str(spec["url"])
    # One exec for all requests (each `kubectl exec` costs a round trip); a marker line after each reply.
    script = (f"i=0; while [ $i -lt {n} ]; do wget -q -O - -T 3 {shlex.quote(url)} 2>&1; "
              f"echo \"@@rc=$?\"; i=$((i+1)); done")
    code, out = await _exec(pod, spec, ctx, script, timeout=10.0 + 4 * n)
    if code != 0 and "@@rc=" not in out:
        return False, f"kubectl exec into pod/{pod} failed: {out.strip()[:160]}"
    ok_count, backends, bodies = 0, set(), []
    # Each request prints its body then "@@rc=<code>"; walk them in order.
    body = ""
    for line in out.splitlines():
        m = re.match(r"^(.*)@@rc=(\d+)$", line)
        if m:
            body += m.group(1)
            if m.group(2) == "0":
                ok_count += 1
                b = _BACKEND.search(body)
                backends.add(b.group(1) or b.group(2) if b else body.strip())
            bodies.append(body)
            body = ""
        else:
            body += line + "\n"
    want_status = spec.get("status", 200)
    parts = [f"{ok_count}/{n} requests from pod/{pod} to {url} answered 2xx"]
    ok = True
    if str(want_status) == "error":
        ok = ok_count == 0
    elif ok_count < n:
        ok = False
        err = next((b.strip() for b in bodies if "wget:" in b), "")
        if err:
            parts.append(err.splitlines()[-1][:120])
    if "distinct_backends_gte" in spec:
        parts.append(f"{len(backends)} distinct backend(s) (want ≥ {spec['distinct_backends_gte']})")
        ok = ok and len(backends) >= int(spec["distinct_backends_gte"])
    if spec.get("body_matches"):
        hit = any(re.search(str(spec["body_matches"]), b) for b in bodies)
        parts.append(f"body {'matches' if hit else 'does not match'} {spec['body_matches']!r}")
        ok = ok and hit
    return ok, "; ".join(parts)


#: Resolve a name as the pod's resolver would: ``getent hosts`` where the image has it (glibc applies
#: resolv.conf's search list and ndots); else BusyBox's ``nslookup``, which asks for the name as given,
#: tried with each search domain in the order the resolver would (the name itself first when it has
#: at least ndots dots, else last). Only the answer (from "Name:" on) is printed, not the server's address.
_DNS_LOOKUP = r"""n=$1
if command -v getent >/dev/null 2>&1; then getent hosts "$n"; exit $?; fi
dots=$(printf %s "$n" | tr -cd . | wc -c)
nd=$(sed -n 's/.*ndots:\([0-9]*\).*/\1/p' /etc/resolv.conf | tail -n 1)
search=$(sed -n 's/^search[[:space:]]*//p' /etc/resolv.conf | tail -n 1)
case $n in *.) cands=$n ;; *)
  cands=
  [ "$dots" -ge "${nd:-1}" ] && cands=$n
  for d in $search; do cands="$cands $n.$d"; done
  [ "$dots" -lt "${nd:-1}" ] && cands="$cands $n" ;;
esac
for c in $cands; do
  out=$(nslookup "$c" 2>&1) && printf '%s\n' "$out" | grep -q '^Name:' && { printf '%s\n' "$out" | sed -n '/^Name:/,$p'; exit 0; }
done
echo "$n: not found (tried:$cands)"
exit 1"""


def dns_lookup_script(name: str) -> str:
    """The shell that resolves ``name`` inside a pod (see ``_DNS_LOOKUP``)."""
    return f"set -- {shlex.quote(name)}\n{_DNS_LOOKUP}"


async def check_dns(spec: dict[str, Any], ctx: CheckContext) -> tuple[bool, str]:
    pod, why = await _source_pod(spec, ctx)
    if pod is None:
        return False, why
    name = str(spec["name"])
    code, out = await _exec(pod, spec, ctx, dns_lookup_script(name), timeout=15.0)
    addrs = re.findall(r"\b(\d{1,3}(?:\.\d{1,3}){3})\b", out)
    resolved = code == 0 and bool(addrs)
    if spec.get("resolves", True) is False:
        return (not resolved), (f"{name} resolved to {', '.join(addrs)}" if resolved else f"{name} does not resolve")
    if not resolved:
        return False, f"{name} does not resolve from pod/{pod}: {out.strip()[:120]}"
    if spec.get("address") and str(spec["address"]) not in addrs:
        return False, f"{name} resolves to {', '.join(addrs)}, want {spec['address']}"
    return True, f"{name} resolves to {', '.join(addrs)}"


_KINDS = {
    "exists": check_exists, "field": check_field, "count": check_count, "endpoints": check_endpoints,
    "event": check_event, "shell": check_shell, "http": check_http, "dns": check_dns,
}
