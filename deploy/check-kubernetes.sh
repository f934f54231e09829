#!/usr/bin/env bash
# Renders the Kubernetes manifests with kustomize and validates every
# object against the Kubernetes schemas, strictly (an unknown field fails),
# for the oldest and the newest Kubernetes versions the manifests target.
# Then checks that the check can fail: each deploy/testdata/invalid-*.yaml
# must be refused. Needs kubectl (for kustomize), python3 and
# kubernetes-validate (pip install -r deploy/requirements.txt); no
# cluster, no network.
#
#   bash deploy/check-kubernetes.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=(-k 1.30.0 -k 1.37.0)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Succeeds only if every object passed: kubernetes-validate exits 0 on an
# object it has no schema for (a misspelt kind or apiVersion) and only
# prints WARN, so anything but INFO lines is a failure too.
validate() {
  local file=$1 report status
  set +e
  report=$(kubernetes-validate --strict "${VERSIONS[@]}" "$file" 2>&1)
  status=$?
  set -e
  if [ "$status" -eq 0 ] && [ -n "$report" ] && ! grep -qv '^INFO ' <<<"$report"; then
    echo "valid: $(grep -c '^INFO ' <<<"$report") checks (objects x versions ${VERSIONS[*]})"
    return 0
  fi
  grep -v '^INFO ' <<<"$report" || true
  return 1
}

# The metrics listener is for Prometheus only: there is a latchkey-metrics
# Service, and no other Service carries the metrics port.
metrics_private() {
  python3 - "$1" <<'PYTHON'
import sys
import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
bad = [] if "latchkey-metrics" in services else ["no latchkey-metrics Service"]
for name, svc in services.items():
    for port in svc["spec"].get("ports", []):
        exposes = port.get("targetPort") in ("metrics", 9464) or port.get("port") == 9464
        if exposes and name != "latchkey-metrics":
            bad.append(f"Service {name} exposes the metrics port")
print("\n".join(bad) if bad else "metrics: only latchkey-metrics exposes them")
sys.exit(1 if bad else 0)
PYTHON
}

failed=0
for dir in deploy/kubernetes deploy/kubernetes-example; do
  name=$(basename "$dir")
  echo "kubectl kustomize $dir"
  if ! kubectl kustomize "$dir" >"$out/$name.yaml"; then
    echo "FAILED: kubectl kustomize $dir" >&2
    failed=1
    continue
  fi
  if ! validate "$out/$name.yaml"; then
    echo "FAILED: $dir does not validate" >&2
    failed=1
  fi
  if ! metrics_private "$out/$name.yaml"; then
    echo "FAILED: $dir exposes the metrics listener" >&2
    failed=1
  fi
done

echo "self-check: every deploy/testdata/invalid-*.yaml must be refused"
for file in deploy/testdata/invalid-*.yaml; do
  if validate "$file" >"$out/selfcheck.log"; then
    echo "FAILED: $file was accepted; the validation cannot catch what it is for" >&2
    failed=1
  else
    echo "refused as expected: $(head -n1 "$out/selfcheck.log")"
  fi
done

if [ "$failed" -ne 0 ]; then
  echo "kubernetes manifests: FAILED" >&2
  exit 1
fi
echo "kubernetes manifests: rendered and valid"
