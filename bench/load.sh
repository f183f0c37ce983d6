#!/usr/bin/env bash
# Read-path load benchmark: a release build loaded with a realistic dataset
# (thousands of products, hundreds of thousands of facts), measured with wrk
# in one run against GET /healthz as the baseline.
#
# usage: bench/load.sh [PRODUCTS] [FACTS]   (defaults 2000 and 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
products=${1:-2000}
facts=${2:-200000}
port=18081
duration=${DURATION:-10s}
connections=${CONNECTIONS:-32}

if ! command -v wrk >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q && $SUDO apt-get install -y -q wrk
fi

work=$(mktemp -d /tmp/chokepoint-load.XXXXXX)
chmod 755 "$work"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
python3 bench/gen_facts.py "$facts" "$products" "$work/data"
bin=./target/release/chokepoint
$bin serve --port "$port" --data-dir "$work/db" --no-seed --log-level warn \
    --rate-limit 1000000 --rate-burst 1000000 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
pid=$(pgrep -f "chokepoint serve --port $port" | head -1)
key=$($bin keys create --scope admin --name bench --data-dir "$work/db" 2>/dev/null)

python3 bench/post_setup.py "$port" "$key" "$work/data.setup.ndjson"
curl -fsS -o /dev/null -X POST "http://127.0.0.1:$port/v1/facts/import" -H "authorization: Bearer $key" \
    -H 'content-type: application/x-ndjson' --data-binary "@$work/data.ndjson"
# Wait until the live snapshot holds every product.
for _ in $(seq 1 300); do
    n=$(curl -fsS "http://127.0.0.1:$port/v1/scores?limit=1000&stage=applications" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
    [ "$n" -gt 0 ] && break; sleep 0.5
done
sleep 2
product="bench-product-$((products - 1))"

run() {
    wrk -t2 -c"$connections" -d"$duration" --latency "http://127.0.0.1:$port$1" >"$work/wrk.txt"
    rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
    echo "$rps $p99"
}
read -r base_rps base_p99 < <(run /healthz)
read -r one_rps one_p99 < <(run "/v1/scores/$product")
read -r list_rps list_p99 < <(run "/v1/scores?buyer=US&limit=100")
read -r mc_rps mc_p99 < <(run "/v1/scores/$product?uncertainty=true")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")

python3 - "$products" "$facts" "$connections" "$duration" "$rss" \
    "$base_rps" "$base_p99" "$one_rps" "$one_p99" "$list_rps" "$list_p99" "$mc_rps" "$mc_p99" <<'PY'
import sys
products, facts, connections, duration, rss, *r = sys.argv[1:]
rows = [("GET /healthz (baseline)", r[0], r[1]), ("GET /v1/scores/{product}", r[2], r[3]),
        ("GET /v1/scores?buyer=US&limit=100", r[4], r[5]), ("GET /v1/scores/{product}?uncertainty=true", r[6], r[7])]
base = float(rows[0][1])
print(f"{products} products, {facts} facts; wrk -t2 -c{connections} -d{duration}; server RSS {int(rss) / 1024:.0f} MiB")
print("| request | requests/s | ratio to /healthz | p99 |")
print("|---|---|---|---|")
for name, rps, p99 in rows:
    print(f"| {name} | {float(rps):,.0f} | {float(rps) / base:.2f} | {p99} |")
PY
