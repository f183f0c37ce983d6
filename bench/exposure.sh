#!/usr/bin/env bash
# Exposure benchmark: POST /v1/exposure with a 10,000-item bill of materials
# (JSON, then the same as CSV) against the service loaded with the baseline
# dataset, next to GET /healthz and the single-score read
# GET /v1/scores/{product}, measured one after the other in the same run over
# one keep-alive connection.
#
# usage: bench/exposure.sh [REQUESTS]   (default 50 of each, after 5 warm-up)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-50}
work=$(mktemp -d /tmp/chokepoint-bench.XXXXXX)
chmod 755 "$work"
port=18081
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release -q
# A first start on an empty embedded database loads the baseline dataset.
./target/release/chokepoint serve --port "$port" --data-dir "$work/data" --no-public-data --log-level warn \
    --rate-limit 1000000 --rate-burst 1000000 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/v1/scores/ev-traction-motor" >/dev/null 2>&1 && break
    sleep 0.2
done

python3 - "$port" "$requests" data/baseline/products.ndjson <<'PY'
import http.client, json, statistics, sys, time

port, requests, products_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
products = [json.loads(line)["id"] for line in open(products_file) if line.strip()]
countries = [None, "CN", "JP", "US", "DE", "KR", "AU", "MY", "FR", "VN"]
items = []
for i in range(10_000):
    item = {"ref": f"P-{i:05d}", "product": products[i % len(products)],
            "annual_spend": 1000 + (i * 7919) % 250_000, "quantity": 1 + i % 40}
    country = countries[(i // len(products)) % len(countries)]
    if country:
        item["supplier_country"] = country
    items.append(item)
json_body = json.dumps({"buyer": "US", "items": items}).encode()
rows = ["ref,product,annual_spend,quantity,supplier_country"]
rows += [f'{i["ref"]},{i["product"]},{i["annual_spend"]},{i["quantity"]},{i.get("supplier_country", "")}' for i in items]
csv_body = ("\n".join(rows) + "\n").encode()

connection = http.client.HTTPConnection("127.0.0.1", port)

def call(method, path, body=None, content_type=None):
    headers = {"content-type": content_type} if content_type else {}
    started = time.perf_counter()
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    if response.status != 200:
        sys.exit(f"{method} {path}: {response.status} {payload[:300]!r}")
    return elapsed, payload

cases = [
    ("GET /healthz", lambda: call("GET", "/healthz")),
    ("GET /v1/scores/sintered-ndfeb-magnet", lambda: call("GET", "/v1/scores/sintered-ndfeb-magnet")),
    ("POST /v1/exposure, 10,000 items (JSON)", lambda: call("POST", "/v1/exposure", json_body, "application/json")),
    ("POST /v1/exposure, 10,000 items (CSV)", lambda: call("POST", "/v1/exposure?buyer=US", csv_body, "text/csv")),
]
_, report = cases[2][1]()
summary = json.loads(report)["summary"]
assert summary["scored"] == 10_000, summary
print(f"{len(products)} products; JSON body {len(json_body) / 1e6:.2f} MB, CSV body {len(csv_body) / 1e6:.2f} MB, "
      f"response {len(report) / 1e6:.2f} MB")
results = {}
for name, run in cases:
    for _ in range(5):
        run()
    times = sorted(run()[0] * 1000 for _ in range(requests))
    results[name] = statistics.mean(times)
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    print(f"{name}: mean {statistics.mean(times):.3f} ms, median {statistics.median(times):.3f} ms, p95 {p95:.3f} ms")
health = results["GET /healthz"]
single = results["GET /v1/scores/sintered-ndfeb-magnet"]
for name in list(results)[2:]:
    print(f"{name}: {results[name] / health:,.0f}× GET /healthz, {results[name] / single:,.0f}× the single-score read")
PY
