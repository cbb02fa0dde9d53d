"""kubetui's NetworkPolicy enforcement on Docker nodes: the node agent a CNI plugin brings
(Calico's Felix, kube-router's firewall). ``rules`` decides (pure), ``agent`` acts (iptables).
Standard library only: it runs inside the node, like the kubelet and kube-proxy."""
