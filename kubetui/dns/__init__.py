"""Cluster DNS: serves cluster.local from Services and EndpointSlices (standard library only; runs as a pod)."""
