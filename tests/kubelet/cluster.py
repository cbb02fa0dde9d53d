"""A control plane for node tests: a real Store, Registry and HTTPS APIServer with the kubelet connector,
and optionally an in-process kubelet on the plain-process runtime."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from kubetui.api.resources import resource_for
from kubetui.apiserver.auth import TokenAuthenticator
from kubetui.apiserver.certs import ensure_pki
from kubetui.apiserver.registry import Registry
from kubetui.apiserver.server import APIServer
from kubetui.client.kubeconfig import write_kubeconfig
from kubetui.kubelet.apiclient import APIClient
from kubetui.apiserver.kubeletclient import KubeletConnector, KubeletMetrics
from kubetui.kubelet.kubelet import Kubelet, KubeletConfig
from kubetui.runtime.process import ProcessRuntime
from kubetui.apiserver.inprocess import InProcessClient
from kubetui.controllers.manager import ControllerManager
from kubetui.providers import loopback
from kubetui.store import Store

NODE = "node-e2e"


class Cluster:
    async def start(self, tmp, kubectl_bin, *, kubelet=True):
        self.kubectl_bin = kubectl_bin
        # pod addresses from a loopback block of its own, claimed like a local cluster's: a local cluster
        # or another test session running meanwhile never binds the same ones (kubetui.providers.loopback)
        self.claim = loopback.claim(tmp / "loopback")
        self.pod_cidr = self.claim.block.pod_cidr(99)
        self.pod_prefix = self.pod_cidr.rsplit(".", 1)[0] + "."
        self.store = Store(None)
        await self.store.open()
        self.registry = Registry(self.store)
        await self.registry.bootstrap()
        pki = ensure_pki(tmp, "e2e")
        auth = TokenAuthenticator.for_state_dir(tmp)
        self.connector = KubeletConnector.for_registry(self.registry, auth)

        async def list_nodes():
            return (await self.registry.list(resource_for("nodes"), None))["items"]
        self.server = APIServer(self.registry, port=0, ssl_context=pki.server_ssl_context(),
                                authenticator=auth, node_connector=self.connector,
                                metrics_source=KubeletMetrics(self.connector, list_nodes))
        await self.server.start()
        # what every control plane runs for pods' kube-api-access volumes: kube-root-ca.crt in each namespace
        self.controllers = ControllerManager(InProcessClient(self.registry), resync_seconds=None,
                                             controllers=["serviceaccount", "root-ca-cert-publisher"],
                                             root_ca_pem=pki.ca_pem().decode())
        await self.controllers.start()
        self.auth, self.pki = auth, pki
        self.kubelet = None
        self.kubeconfig = write_kubeconfig(tmp / "kubeconfig", "e2e", self.server.url, pki.ca_pem(),
                                           auth.admin_token())
        if kubelet:
            await self.start_kubelet(tmp)
        return self

    async def start_kubelet(self, tmp, **overrides):
        auth, pki = self.auth, self.pki
        api = APIClient(self.server.url, token=auth.node_token(NODE), ca_data=pki.ca_pem().decode())
        config = KubeletConfig(node_name=NODE, root_dir=tmp / "node", node_ip="127.0.0.1",
                               address="127.0.0.1", port=0, cpus=2, memory_bytes=2 * 2 ** 30,
                               lease_renew=0.2, status_update=0.5, sync_period=0.2)
        for k, v in overrides.items():
            setattr(config, k, v)
        runtime = ProcessRuntime(tmp / "node" / "runtime", node_name=NODE, pod_cidr=self.pod_cidr)
        self.kubelet = Kubelet(config, api, runtime, server_token=auth.node_token(NODE))
        await self.kubelet.start()
        return self.kubelet

    async def stop(self):
        if self.kubelet:
            await self.kubelet.stop()
        await self.controllers.stop()
        await self.server.stop()
        await self.store.close()
        self.claim.close()

    async def kubectl(self, *args, stdin=None, timeout=20):
        p = await asyncio.create_subprocess_exec(
            self.kubectl_bin, "--kubeconfig", str(self.kubeconfig), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(p.communicate(stdin), timeout)
        return p.returncode, out.decode(), err.decode()

    async def pod(self, name, ns="default"):
        return await self.registry.get(resource_for("pods"), ns, name)

    async def wait_pod(self, name, pred, timeout=15.0):
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                pod = await self.pod(name)
                if pred(pod):
                    return pod
            except Exception:  # noqa: BLE001 (not created yet)
                pod = None
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"pod {name} never reached the state; last: "
                                     f"{json.dumps((pod or {}).get('status'), indent=1)}")
            await asyncio.sleep(0.1)


