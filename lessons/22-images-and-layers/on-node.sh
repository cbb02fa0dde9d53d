#!/bin/bash
# on-node.sh POD COMMAND [ARG...]: run COMMAND inside the Docker container of the node that runs POD.
#
# What you would type by hand:  docker exec kubetui-<cluster>-<node> COMMAND ...
# kubetui names the kubeconfig context kubetui-<cluster> and each node container
# kubetui-<cluster>-<node>, so the container is "<current context>-<node name>".
# The lesson's checks use this; learners type the docker exec themselves.
set -euo pipefail
pod=$1
shift
node=$(kubectl get pod "$pod" -o jsonpath='{.spec.nodeName}')
if [ -z "$node" ]; then
  echo "pod/$pod is not on a node yet" >&2
  exit 3
fi
exec docker exec "$(kubectl config current-context)-$node" "$@"
