"""What every node agent shares (upstream: client-go and component-base, as the kubelet, kube-proxy and
CoreDNS each link them in).

- ``apiclient``: the HTTPS client to the API server (pooled keep-alive
  connections, watches, ``Status`` errors);
- ``reflector``: the list-watch cache (list, watch from the list's
  resourceVersion, bookmarks, relist on 410 Gone, backoff) every agent keeps
  its objects in;
- ``clock``: real time, injectable (tests pass ``kubetui.clock.FakeClock``);
- ``main``: running an agent process (logging, SIGTERM), or several agents in
  one process, each on its own thread (a Docker node's kubelet and kube-proxy);
- ``httpwire``: the HTTP framing and ``APIError`` both clients share;
- ``blocking``: the same client, reflector and main without asyncio, for the
  cluster DNS pod (a second interpreter on its node: asyncio's imports alone
  would be a third of its memory).

Standard library only: this package ships in the node image with the agents
(``kubelet``, ``runtime``, ``proxy``, ``dns``), which import nothing of kubetui
but each other and this base.
"""
