#!/usr/bin/env bash
# Checks the Prometheus alerting rules (syntax, and their unit tests with
# promtool) and that the Grafana dashboard is well-formed JSON. Which
# metrics they may name is checked against a real scrape by
# operations::the_dashboard_and_alerts_name_only_metrics_latchkey_exports.
#
# promtool comes from Debian's prometheus package, unpacked into a
# temporary directory (installing the package would start a server).
set -euo pipefail
cd "$(dirname "$0")/.."

promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1)
  } || { echo "check-observability: cannot fetch Debian's prometheus package for promtool" >&2; exit 1; }
  dpkg -x "$work"/prometheus_*.deb "$work/x"
  promtool="$work/x/usr/bin/promtool"
fi

"$promtool" check rules deploy/prometheus/latchkey-alerts.yaml
"$promtool" test rules deploy/prometheus/latchkey-alerts.test.yaml
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["panels"], "no panels"; print("dashboard:", len(d["panels"]), "panels")' \
  deploy/grafana/latchkey-dashboard.json
