#!/usr/bin/env bash
# Monitoring at scale, one run, the release build on the baseline. A local
# receiver (a threaded Python HTTP server) stands for every endpoint.
#
# 1. Ingestion: single-fact writes a second, four unpaced writers, for
#    SECONDS, with no rule (the baseline) and then with RULES rules active
#    over ENDPOINTS watchlists (a fact that moves none of them, so what is
#    measured is what evaluating them costs ingestion). Target: within 10%.
# 2. Latency: from the 201 of a write that moves a watched score to the
#    webhook request arriving, EVENTS writes one after another, first with
#    one rule and one endpoint (the baseline), then with RULES rules and
#    ENDPOINTS endpoints registered. Target: p95 under 1 s.
#
# usage: bench/monitoring.sh [ENDPOINTS] [RULES] [EVENTS] [SECONDS]
#        (default 1000 10000 50 20)
set -euo pipefail
cd "$(dirname "$0")/.."
endpoints=${1:-1000}
rules=${2:-10000}
events=${3:-50}
seconds=${4:-20}
port=18086
work=$(mktemp -d /tmp/chokepoint-monitoring.XXXXXX)
chmod 755 "$work"
service=""
trap 'kill $service 2>/dev/null || true; wait $service 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
bin=./target/release/chokepoint
$bin serve --port "$port" --data-dir "$work/db" --no-public-data --log-level warn \
    --rate-limit 1000000 --rate-burst 1000000 --webhook-private-targets >"$work/service.log" 2>&1 &
service=$!
curl -fsS --retry 600 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port/readyz"
key=$($bin keys create --scope admin --name bench --data-dir "$work/db" 2>/dev/null)
database="postgresql://postgres@/chokepoint?host=$work/db/postgres"

python3 bench/monitoring.py "$port" "$key" "$database" "$endpoints" "$rules" "$events" "$seconds"
