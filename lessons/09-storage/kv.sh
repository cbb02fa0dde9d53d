#!/bin/bash
# kv.sh APP get|put|delete KEY [VALUE] | kv.sh APP keys: talk to the kubetui/kv server of Deployment APP.
#
# What you would type by hand (kubetui/kv listens on its pod IP, port 8080):
#   kubectl exec deploy/APP -- wget -qO- http://POD_IP:8080/KEY            (read)
# busybox's wget can also send data (--post-data), but the wget in kubetui's
# images only reads, so writes go through the Python that the kv image runs on.
# The request is made from inside the pod: nothing leaves the cluster.
set -euo pipefail
app=$1 op=$2 key=${3:-} value=${4:-}
# the Running pod of APP that is not being deleted (during a drain there may be two)
read -r pod ip < <(kubectl get pods -l "app=$app" -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP} {.status.phase} {.metadata.deletionTimestamp}{"\n"}{end}' |
  awk '$3 == "Running" && NF == 3 {print $1, $2; exit}') || true
if [ -z "${pod:-}" ]; then
  echo "no Running pod of $app" >&2
  exit 3
fi
case $op in
  get) method=GET ;; put) method=PUT ;; delete) method=DELETE ;; keys) method=GET key= ;;
  *) echo "kv.sh: unknown operation $op (get, put, delete, keys)" >&2; exit 2 ;;
esac
exec kubectl exec "$pod" -- python3 -c '
import sys, time, urllib.request, urllib.error
method, url = sys.argv[1], sys.argv[2]
value = sys.argv[3] if len(sys.argv) > 3 else ""
req = urllib.request.Request(url, data=value.encode() if method == "PUT" else None, method=method)
for attempt in range(20):        # a pod that has just started may not listen yet: up to ~5 s
    try:
        print(urllib.request.urlopen(req, timeout=5).read().decode(), end="")
        break
    except urllib.error.HTTPError as e:
        print(e.read().decode(), end=""); sys.exit(1)
    except urllib.error.URLError as e:
        if attempt == 19:
            print(f"kv.sh: {url}: {e.reason}", file=sys.stderr); sys.exit(1)
        time.sleep(0.25)
' "$method" "http://$ip:8080/$key" ${value:+"$value"}
