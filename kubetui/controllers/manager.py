"""kube-controller-manager: runs every controller against one set of shared informers.

Upstream: ``cmd/kube-controller-manager/app/controllermanager.go`` (the
``--controllers`` list, ``NewControllerDescriptors``, starting the shared
informer factory, ``WaitForCacheSync`` before any worker runs).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

from kubetui import timings as _timings
from kubetui.client.base import Client
from kubetui.client.informer import InformerFactory
from kubetui.client.reconciles import ReconcileLog, RecordingClient
from kubetui.client.record import EventRecorder
from kubetui.clock import Clock
from kubetui.controllers.base import Controller
from kubetui.timedial import TimeDial

log = logging.getLogger(__name__)

# name -> "module:Class"; the names are kube-controller-manager's --controllers names.
CONTROLLERS: dict[str, str] = {
    "replicaset": "kubetui.controllers.replicaset:ReplicaSetController",
    "replicationcontroller": "kubetui.controllers.replicationcontroller:ReplicationControllerController",
    "resourcequota": "kubetui.controllers.resourcequota:ResourceQuotaController",
    "disruption": "kubetui.controllers.disruption:DisruptionController",
    "deployment": "kubetui.controllers.deployment:DeploymentController",
    "daemonset": "kubetui.controllers.daemonset:DaemonSetController",
    "statefulset": "kubetui.controllers.statefulset:StatefulSetController",
    "job": "kubetui.controllers.job:JobController",
    "cronjob": "kubetui.controllers.cronjob:CronJobController",
    "horizontalpodautoscaling": "kubetui.controllers.horizontal:HorizontalPodAutoscalerController",
    "ttl-after-finished": "kubetui.controllers.ttlafterfinished:TTLAfterFinishedController",
    "node-lifecycle": "kubetui.controllers.nodelifecycle:NodeLifecycleController",
    "taint-eviction": "kubetui.controllers.taint_eviction:TaintEvictionController",
    "pod-garbage-collector": "kubetui.controllers.podgc:PodGCController",
    "endpoints": "kubetui.controllers.endpoints:EndpointsController",
    "endpointslice": "kubetui.controllers.endpointslice:EndpointSliceController",
    "endpointslicemirroring": "kubetui.controllers.endpointslicemirroring:EndpointSliceMirroringController",
    "garbage-collector": "kubetui.controllers.garbagecollector:GarbageCollector",
    "namespace": "kubetui.controllers.namespace:NamespaceController",
    "persistentvolume-binder": "kubetui.controllers.persistentvolume:PersistentVolumeController",
    "nodeipam": "kubetui.controllers.nodeipam:NodeIpamController",
    "clusterrole-aggregation": "kubetui.controllers.clusterroleaggregation:ClusterRoleAggregationController",
    "serviceaccount": "kubetui.controllers.serviceaccounts:ServiceAccountsController",
    "root-ca-cert-publisher": "kubetui.controllers.serviceaccounts:RootCACertPublisher",
    # apiextensions-apiserver's naming/establishing/finalizer controllers (not kube-controller-manager's)
    "customresourcedefinition": "kubetui.controllers.customresourcedefinition:CustomResourceDefinitionController",
}


def _load(path: str) -> type[Controller]:
    module, cls = path.split(":")
    return getattr(importlib.import_module(module), cls)


class ControllerManager:
    def __init__(self, client: Client, *, clock: Clock | None = None,
                 timings: _timings.Timings = _timings.LAB, controllers: list[str] | None = None,
                 api_server_endpoint: tuple[str, int] = ("127.0.0.1", 6443),
                 resync_seconds: float | None = 30.0, metrics_client: Any = None,
                 root_ca_pem: str | None = None, reconcile_log: ReconcileLog | None = None,
                 dial: TimeDial | None = None) -> None:
        self.client = client
        # the cluster CA the root-ca-cert-publisher puts in every namespace (kube-root-ca.crt)
        self.root_ca_pem = root_ca_pem
        # the resource metrics API (metrics.k8s.io) the HPA controller reads
        self.metrics_client = metrics_client
        self.clock = clock or Clock()
        # The time dial gates every controller's work; their timers run on its clock
        # (events keep the real clock: they say when something happened).
        self.dial = dial
        self.timer_clock = dial.clock if dial is not None else self.clock
        self.timings = timings
        self.api_server_endpoint = api_server_endpoint
        self.factory = InformerFactory(client, clock=self.clock, resync_seconds=resync_seconds)
        #: every reconcile's record (shared with the scheduler in a control plane)
        self.reconcile_log = reconcile_log if reconcile_log is not None else ReconcileLog(clock=self.clock)
        # The controllers write through a client that adds each write to the running reconcile's
        # record; Events go through the plain one (they are the recorder's, not the reconcile's).
        recording = RecordingClient(client)
        names = list(CONTROLLERS) if controllers is None else controllers
        unknown = [n for n in names if n not in CONTROLLERS]
        if unknown:
            raise ValueError(f"unknown controllers {unknown}; known: {', '.join(CONTROLLERS)}")
        self.controllers: dict[str, Controller] = {}
        for name in names:
            klass = _load(CONTROLLERS[name])
            self.controllers[name] = klass(recording, self.factory, clock=self.timer_clock, timings=timings,
                                           recorder=EventRecorder(client, klass.component, clock=self.clock),
                                           dial=dial, **klass.extra_args(self))
            self.controllers[name].reconcile_log = self.reconcile_log
        self._started = False

    async def start(self) -> None:
        """Start informers, wait until their caches are full, then start the workers."""
        await self.factory.start()
        await self.factory.wait_for_cache_sync()
        for c in self.controllers.values():
            await c.run()
        self._started = True
        log.info("controller manager running: %s", ", ".join(self.controllers))

    async def stop(self) -> None:
        for c in self.controllers.values():
            await c.stop()
        await self.factory.stop()
        self._started = False

    def activity(self) -> dict[str, dict[str, Any]]:
        """Per controller: reconciles, errors, last reconcile time, queue depth (for the TUI)."""
        out = {}
        for name, c in self.controllers.items():
            d = c.stats.as_dict()
            d["queue"] = len(c.queue)
            d["processing"] = len(c.queue.processing)
            out[name] = d
        return out

    async def settle(self, rounds: int = 50) -> None:
        """Let queued work finish (tests): yield until every queue is idle for a few rounds."""
        idle = 0
        for _ in range(rounds * 20):
            for c in self.controllers.values():
                flush = getattr(c.recorder, "flush", None)
                if flush is not None and getattr(c.recorder, "_tasks", None):
                    await flush()
            busy = any(len(c.queue) or c.queue.processing for c in self.controllers.values())
            idle = 0 if busy else idle + 1
            if idle >= 10:
                return
            await asyncio.sleep(0)
