"""kube-proxy: makes Service addresses work on every node (standard library only; runs inside nodes)."""
