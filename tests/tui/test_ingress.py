"""Ingresses in the TUI: browser tabs with kubectl's columns, describe as kubectl's plus the routes."""

from __future__ import annotations

from textual.widgets import Static

from kubetui.tui.describe import describe
from kubetui.tui.printers import headers_for
from kubetui.tui.screens.browser import BROWSABLE, BrowserScreen
from kubetui.tui.screens.detail import DetailScreen
from tests.tui.test_app import settle, wait_for, wait_screen


def shop() -> dict:
    return {"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
            "metadata": {"name": "shop", "namespace": "default", "uid": "uid-shop"},
            "spec": {"ingressClassName": "kubetui", "tls": [{"hosts": ["shop.example"], "secretName": "shop-tls"}],
                     "rules": [{"host": "shop.example", "http": {"paths": [
                         {"path": "/cart", "pathType": "Prefix",
                          "backend": {"service": {"name": "cart", "port": {"number": 80}}}},
                         {"path": "/", "pathType": "Prefix",
                          "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ports": [
                {"port": 8080, "protocol": "TCP"}, {"port": 8443, "protocol": "TCP"}]}]}}}


def cart_service() -> dict:
    return {"kind": "Service", "metadata": {"name": "cart", "namespace": "default", "uid": "uid-cart"},
            "spec": {"clusterIP": "10.96.0.50", "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                                           "protocol": "TCP"}]}}


def cart_slice() -> dict:
    return {"kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": "cart-abcde", "namespace": "default", "uid": "uid-slice",
                         "labels": {"kubernetes.io/service-name": "cart"}},
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": "cart-1", "namespace": "default"}, "nodeName": "n1"},
                          {"addresses": ["10.244.2.7"], "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": "cart-2", "namespace": "default"}, "nodeName": "n2"}]}


def test_tabs_and_columns():
    assert {"ingresses", "ingressclasses"} <= set(BROWSABLE)
    assert headers_for("ingresses") == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert headers_for("ingressclasses") == ["NAME", "CONTROLLER", "PARAMETERS", "AGE"]


def test_describe_is_kubectls_with_the_routes():
    text = describe(shop(), related={"services": [cart_service()], "endpointslices": [cart_slice()]})
    assert "Address:          127.0.0.1" in text and "Ingress Class:    kubetui" in text
    assert "Default backend:  <default>" in text
    assert "TLS:\n  shop-tls terminates shop.example" in text
    assert "  Host          Path   Backends" in text
    assert "                /cart  cart:80 (10.244.1.5:8080,10.244.2.7:8080)" in text
    assert '/      web:http (<error: services "web" not found>)' in text
    assert "shop.example/cart (Prefix) -> cart:80 -> 10.244.1.5:8080 (cart-1), 10.244.2.7:8080 (cart-2)" in text
    assert "shop.example/ (Prefix) -> web:http -> no such Service port (503)" in text
    assert "anything else -> 404 (default backend - 404)" in text
    assert "try: curl -H 'Host: shop.example' http://127.0.0.1:8080/cart" in text


async def test_ingress_tab_and_routes_in_the_detail_view(make_app, backend):
    backend.client.put("ingresses", shop())
    backend.client.put("services", cart_service())
    backend.client.put("endpointslices", cart_slice())
    app = make_app(start="browse")
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await wait_screen(pilot, BrowserScreen)
        screen.show_resource("ingresses")
        await settle(app, pilot, "ingresses")
        await wait_for(pilot, lambda: "default/shop" in screen._objects())
        await pilot.press("d")
        detail = await wait_screen(pilot, DetailScreen)
        await wait_for(pilot, lambda: "cart-2" in str(detail.query_one("#describe-body", Static).content)
                       or bool(detail.render_all()))
        text = str(detail.query_one("#describe-body", Static).content)
        assert "shop.example/cart (Prefix) -> cart:80 -> 10.244.1.5:8080 (cart-1)" in text
