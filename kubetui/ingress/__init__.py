"""kubetui's ingress controller: what ingress-nginx does in a cluster, from the host's loopback.

``routing`` decides (pure: Ingresses + a request's host and path -> backend);
``dataplane`` forwards (HTTP and HTTPS listeners on 127.0.0.1, round robin over
the Service's ready endpoints); ``kubetui.controllers.ingress`` watches the
API, feeds both and writes each Ingress's ``status.loadBalancer``.
"""
