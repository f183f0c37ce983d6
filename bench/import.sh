#!/usr/bin/env bash
# Import benchmark: POST /v1/facts/import (NDJSON) against `psql \copy` of the
# same rows into the same table, on the same machine in the same run, plus
# the server's peak RSS after a small and a large import.
#
# usage: bench/import.sh [ROWS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
products=${PRODUCTS:-1000}
small=$((rows / 10))
work=$(mktemp -d /tmp/chokepoint-bench.XXXXXX)
chmod 755 "$work"
port=18080
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
python3 bench/gen_facts.py "$rows" "$products" "$work/facts"
python3 bench/gen_facts.py "$small" "$products" "$work/small"

./target/release/chokepoint serve --port "$port" --data-dir "$work/data" --no-public-data --log-level warn \
    --rate-limit 1000000 --rate-burst 1000000 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
pid=$(pgrep -f "chokepoint serve --port $port" | head -1)
key=$(./target/release/chokepoint keys create --scope ingest --name bench --data-dir "$work/data" 2>/dev/null)

while read -r line; do
    kind=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["kind"])' "$line")
    body=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["body"]))' "$line")
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/v1/${kind}s" -H 'content-type: application/json' \
        -H "authorization: Bearer $key" -d "$body"
done < "$work/facts.setup.ndjson"

hwm() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
import() {
    curl -fsS -o "$work/summary.json" -w '%{time_total}' -X POST "http://127.0.0.1:$port/v1/facts/import" \
        -H 'content-type: application/x-ndjson' -H "authorization: Bearer $key" --data-binary "@$1"
}
rss_start=$(hwm)
t_small=$(import "$work/small.ndjson")
rss_small=$(hwm)
t_api=$(import "$work/facts.ndjson")
rss_large=$(hwm)
cat "$work/summary.json" | head -c 200; echo

socket="$work/data/postgres"
start=$(date +%s.%N)
psql -h "$socket" -U postgres -d chokepoint -q -c "\\copy facts (product_id, country, buyer, facility, metric, value, unit, period_start, period_end, status, controlled_by, expected_online, source_id, confidence, quote, locator, note) FROM '$work/facts.tsv'"
t_psql=$(python3 -c "import time; print(time.time() - $start)")

python3 - "$rows" "$t_api" "$t_psql" "$rss_start" "$rss_small" "$rss_large" "$small" "$t_small" <<'PY'
import sys
rows, t_api, t_psql, rss0, rss_small, rss_large, small, t_small = sys.argv[1:]
rows, small = int(rows), int(small)
t_api, t_psql, t_small = float(t_api), float(t_psql), float(t_small)
print(f"rows: {rows}")
print(f"POST /v1/facts/import (NDJSON): {t_api:.2f} s = {rows / t_api:,.0f} rows/s")
print(f"psql \\copy (same rows, same table): {t_psql:.2f} s = {rows / t_psql:,.0f} rows/s")
print(f"import throughput / psql copy throughput: {t_psql / t_api:.2f}")
print(f"server peak RSS: at start {int(rss0) / 1024:.1f} MiB, after {small:,} rows {int(rss_small) / 1024:.1f} MiB, "
      f"after {rows:,} rows {int(rss_large) / 1024:.1f} MiB")
PY
