"""One object in detail: describe, YAML, its events and its owner chain.

Describe follows ``kubectl describe``; YAML is the object exactly as the API
returns it (``kubectl get -o yaml``; Secret values masked until you ask);
the owner chain walks ``metadata.ownerReferences`` up (Pod → ReplicaSet →
Deployment), which is how garbage collection and rollouts are wired. A
Deployment also has a Rollout tab: its ReplicaSet scale steps (from the
reconcile log, else its Events) drawn against maxSurge and maxUnavailable.
"""

from __future__ import annotations

from typing import Any

import yaml
from rich.syntax import Syntax
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from kubetui.api.resources import resource_for, resource_for_kind
from kubetui.tui.access import ACCESS_KINDS, access_commands
from kubetui.tui.bridge import ObjectsChanged, object_key
from kubetui.tui.describe import completions_bar, describe, events_for, events_table, owner_chain, pod_images
from kubetui.tui.hpa import MetricHistory
from kubetui.tui.kubectl import run_kubectl
from kubetui.tui.printers import pod_status_reason
from kubetui.tui.screens.base import ObjectActions, mask_secret

Obj = dict[str, Any]
TABS = ("describe", "yaml", "events", "owners", "access")


class DetailScreen(ObjectActions, Screen[None]):
    """Tabs for one object; it follows the object live until it is deleted.

    | Key | Action |
    | :- | :- |
    | escape / q | back |
    | x | reveal / mask Secret values |
    | 1-5 | describe / YAML / events / owners / access (who may do what: ServiceAccounts, bindings) |
    | 6 | rollout (a Deployment's ReplicaSet scale steps) |
    """

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("x", "toggle_reveal", "Reveal secret"),
        Binding("1", "tab('describe')", "Describe", show=False),
        Binding("2", "tab('yaml')", "YAML", show=False),
        Binding("3", "tab('events')", "Events", show=False),
        Binding("4", "tab('owners')", "Owners", show=False),
        Binding("5", "tab('access')", "Access", show=False),
        Binding("6", "tab('rollout')", "Rollout", show=False),
        *[b for b in ObjectActions.OBJECT_BINDINGS if b.action not in ("describe", "yaml")],
    ]

    def __init__(self, resource: str, obj: Obj, *, tab: str = "describe") -> None:
        super().__init__()
        self.resource = resource_for(resource).plural
        self.key = object_key(obj)
        self.obj: Obj = obj
        self.deleted = False
        self.reveal = False
        self.initial_tab = tab

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial=self.initial_tab, id="detail-tabs"):
            for tab, title in zip(TABS, ("Describe", "YAML", "Events", "Owners", "Access")):
                with TabPane(title, id=tab):
                    with VerticalScroll():
                        yield Static("", id=f"{tab}-body", classes="detail-body")
            if self.resource == "deployments":
                with TabPane("Rollout", id="rollout"):
                    with VerticalScroll():
                        yield Static("", id="rollout-body", classes="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        md = self.obj.get("metadata", {})
        self.title = f"{resource_for(self.resource).kind} {md.get('name')}"
        self.sub_title = md.get("namespace") or "cluster-scoped"
        # an Ingress's describe resolves its routes to Services and their endpoints (kubectl's describer does too)
        related = ("services", "endpointslices") if self.resource == "ingresses" else ()
        if self.resource == "pods":
            related = ("nodes",)        # the images section reads the pod's node's status.images
        self.app.bridge.subscribe(self, self.resource, "events", "pods", "replicasets", "deployments", "jobs",
                                  "cronjobs", "daemonsets", "statefulsets", *related)
        self.render_all()
        self.run_worker(self._access(), group="access", exclusive=True)

    async def _access(self) -> None:
        """The Access tab: ``kubectl auth can-i --list`` for each subject (run once, on open)."""
        body = self.query_one("#access-body", Static)
        commands = access_commands(self.obj)
        if not commands:
            body.update(f"Access lists what a subject may do: open a {', '.join(ACCESS_KINDS)} to see it.")
            return
        parts = []
        for who, args in commands:
            result = await run_kubectl(args, self.app.backend.kubeconfig_path,
                                       kubectl=getattr(self.app.backend, "kubectl", None))
            parts.append(f"[b]{who}[/b]\n[dim]$ kubectl {' '.join(args)}[/dim]\n"
                         + result.output.rstrip().replace("[", r"\["))
        body.update("\n\n".join(parts))

    def on_unmount(self) -> None:
        self.app.bridge.unsubscribe(self)

    @on(ObjectsChanged)
    def _changed(self, message: ObjectsChanged) -> None:
        changes = message.bridge.take_changes(self)
        if self.key in changes.get(self.resource, {}):
            latest = self.app.bridge.get(self.resource, self.key)
            self.deleted = latest is None
            if latest is not None:
                self.obj = latest
        self.render_all()

    def _events(self) -> list[Obj]:
        return events_for(self.obj, list(self.app.bridge.objects("events").values()))

    def _lookup(self, kind: str, name: str, namespace: str | None) -> Obj | None:
        for res in ("replicasets", "deployments", "jobs", "cronjobs", "daemonsets", "statefulsets"):
            if resource_for(res).kind == kind:
                return self.app.bridge.get(res, f"{namespace}/{name}" if namespace else name)
        return None

    def render_all(self) -> None:
        now = self.app.clock.time()
        shown = mask_secret(self.obj, self.reveal)
        gone = "[b red]This object has been deleted.[/]\n\n" if self.deleted else ""
        related = None
        if self.resource == "ingresses":
            related = {r: list(self.app.bridge.objects(r).values()) for r in ("services", "endpointslices")}
        text = describe(shown, self._events(), now, related=related)
        if self.obj.get("kind") == "HorizontalPodAutoscaler":
            text = self._with_history(text, now)
        if self.resource == "pods" and (self.obj.get("spec") or {}).get("nodeName"):
            node = self.app.bridge.get("nodes", self.obj["spec"]["nodeName"])
            text = text + "\n" + pod_images(self.obj, node)    # kubetui's own, after kubectl's describe
        self.query_one("#describe-body", Static).update(gone + text.replace("[", r"\["))
        text = yaml.safe_dump(shown, sort_keys=False, default_flow_style=False, allow_unicode=True)
        self.query_one("#yaml-body", Static).update(Syntax(text, "yaml", theme="ansi_dark", word_wrap=True))
        self.query_one("#events-body", Static).update(events_table(self._events(), now).replace("[", r"\["))
        self.query_one("#owners-body", Static).update(self._owners_text())
        if self.resource == "deployments" and self.is_mounted and self.active_tab == "rollout":
            self.load_rollout()

    @on(TabbedContent.TabActivated, "#detail-tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if self.resource == "deployments" and self.active_tab == "rollout":
            self.load_rollout()

    @work(exclusive=True, group="rollout")
    async def load_rollout(self) -> None:
        """The Deployment's scale steps: from the reconcile log, else from its ScalingReplicaSet Events."""
        import asyncio

        from kubetui.client.reconciles import ReconcileRecord

        await asyncio.sleep(0.2)   # a burst of changes asks once (a newer call cancels this one)
        from kubetui.tui import rollout

        md = self.obj.get("metadata", {})
        records: list[ReconcileRecord] = []
        fetch = getattr(self.app.backend, "reconciles", None)
        if fetch is not None:
            try:
                doc = await fetch(object=f"Deployment/{md.get('namespace')}/{md.get('name')}",
                                  controller="deployment", tail=2000)
                records = [ReconcileRecord.from_dict(i) for i in doc.get("items") or ()]
            except Exception as exc:  # noqa: BLE001 - no log: the Events still tell the steps
                self.log.debug(f"reconcile log: {exc}")
        raw, source = rollout.steps_from_records(records), "reconcile log"
        if not raw:
            raw, source = rollout.steps_from_events(self._events()), "Deployment's events"
        surge, unavailable = rollout.fenceposts(self.obj)
        self.query_one("#rollout-body", Static).update(
            rollout.draw_timeline(self.obj, rollout.timeline(raw), surge, unavailable, source=source))

    def _with_history(self, text: str, now: float) -> str:
        """An HPA's metric and replicas over time, from every status the watch delivered (kept per app)."""
        histories = self.app.__dict__.setdefault("hpa_history", {})
        history = histories.setdefault(self.key, MetricHistory())
        history.record(self.obj, now)
        at = text.rfind("Events:")
        return text[:at] + history.text(self.obj) + text[at:]

    def _owners_text(self) -> str:
        chain = owner_chain(self.obj, self._lookup)
        lines = []
        for depth, o in enumerate(chain):
            md = o.get("metadata", {})
            extra = ""
            if o.get("_missing"):
                extra = "  (not in cache)"
            elif o.get("kind") == "Pod":
                extra = f"  {pod_status_reason(o)}"
            elif o.get("kind") == "Job" or "completionMode" in o.get("spec", {}):
                extra = f"  {completions_bar(o, 10)}"
            elif "replicas" in o.get("spec", {}):
                extra = f"  {o.get('status', {}).get('readyReplicas', 0)}/{o['spec']['replicas']} ready"
            arrow = "└─ " if depth else ""
            lines.append(f"{'   ' * max(0, depth - 1)}{arrow}[b]{o.get('kind')}[/] {md.get('name')}{extra}")
        # What this object owns, one level down, so a Deployment shows its ReplicaSets and a ReplicaSet its pods.
        uid = self.obj.get("metadata", {}).get("uid")
        owned = []
        for res in ("replicasets", "jobs", "pods"):
            for o in self.app.bridge.objects(res).values():
                if any(r.get("uid") == uid for r in o.get("metadata", {}).get("ownerReferences") or []):
                    owned.append(f"   owns [b]{o.get('kind', resource_for(res).kind)}[/] {o['metadata']['name']}")
        if owned:
            lines += ["", *sorted(owned)]
        if len(chain) == 1 and not owned:
            lines.append("no owners: nothing will recreate this object if it is deleted")
        return "\n".join(lines)

    def selected(self) -> tuple[str, Obj] | None:
        return None if self.deleted else (self.resource, self.obj)

    def action_toggle_reveal(self) -> None:
        if self.obj.get("kind") != "Secret":
            self.app.notify("Only Secrets have values to reveal")
            return
        self.reveal = not self.reveal
        self.render_all()

    def action_tab(self, tab: str) -> None:
        if tab == "rollout" and self.resource != "deployments":
            self.app.notify("Only Deployments roll out through ReplicaSets")
            return
        self.query_one("#detail-tabs", TabbedContent).active = tab

    @property
    def active_tab(self) -> str:
        return self.query_one("#detail-tabs", TabbedContent).active


def kind_to_resource(api_version: str, kind: str) -> str | None:
    res = resource_for_kind(api_version, kind)
    return res.plural if res else None
