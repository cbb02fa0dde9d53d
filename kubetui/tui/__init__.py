"""The Textual TUI: k9s-like views of the cluster that also show *why*.

Upstream has no TUI; k9s is the closest. The app sees the cluster only through
a ``ClusterBackend`` (``kubetui.tui.backend``), whose ``client`` is a
``kubetui.client.base.Client``; watch events reach widgets through one bridge
(``kubetui.tui.bridge``) as coalesced Textual messages.
"""
