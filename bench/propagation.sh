#!/usr/bin/env bash
# Propagation under write load: two replicas over one database. A writer
# sustains RATE single-fact writes a second for SECONDS through replica A;
# a poller reads replica B's served data version (`/readyz`) every few
# milliseconds, and each write's latency is from its 201 to the first poll
# where B serves it. Baseline, same run: the same latency for writes made
# one at a time with no other load. Then the most single-fact writes a
# second four unpaced writers get through A, with change notifications off
# (the baseline for their cost) and on, alternating twice, both replicas
# restarted before each round so neither setting always runs second.
#
# usage: bench/propagation.sh [RATE] [SECONDS]   (default 200 60)
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-200}
seconds=${2:-60}
port_a=18084
port_b=18085
work=$(mktemp -d /tmp/chokepoint-propagation.XXXXXX)
chmod 755 "$work"
replica_a=""
replica_b=""
stop() {
    kill $replica_b $replica_a 2>/dev/null || true
    wait $replica_b $replica_a 2>/dev/null || true
}
trap 'stop; rm -rf "$work"' EXIT

cargo build --release -q
bin=./target/release/chokepoint
start() {
    local limits=(--rate-limit 1000000 --rate-burst 1000000 --log-level warn --change-notifications "$1")
    $bin serve --port "$port_a" --data-dir "$work/db" --no-public-data "${limits[@]}" >>"$work/a.log" 2>&1 &
    replica_a=$!
    curl -fsS --retry 600 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port_a/readyz"
    $bin serve --port "$port_b" --database-url "postgresql://postgres@/chokepoint?host=$work/db/postgres" \
        "${limits[@]}" >>"$work/b.log" 2>&1 &
    replica_b=$!
    curl -fsS --retry 600 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port_b/readyz"
}
start on
key=$($bin keys create --scope ingest --name bench --data-dir "$work/db" 2>/dev/null)

cat >"$work/propagation.py" <<'PY'
import http.client, json, sys, threading, time

port_a, port_b, key, rate, seconds, phase = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
fact = {"product": "rare-earth-concentrate", "country": "US", "metric": "production", "unit": "t/yr",
        "period": "2024", "status": "estimate", "source_id": "usgs-mcs-2025-rare-earths",
        "locator": "Rare Earths, World Mine Production table"}

def write(conn, n):
    conn.request("POST", "/v1/facts", json.dumps({**fact, "value": 40000 + n}), headers)
    response = conn.getresponse()
    body = response.read()
    assert response.status == 201, (response.status, body[:300])
    return json.loads(body)["id"], time.monotonic()

def throughput():
    """Writes a second four unpaced writers get through A."""
    lock, count, stop = threading.Lock(), [0], time.monotonic() + min(10.0, seconds)
    def unpaced(k):
        conn, n = http.client.HTTPConnection("127.0.0.1", int(port_a)), 0
        while time.monotonic() < stop:
            write(conn, 10**6 + k * 10**5 + n)
            n += 1
        with lock:
            count[0] += n
    began = time.monotonic()
    threads = [threading.Thread(target=unpaced, args=(k,)) for k in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    return count[0] / (time.monotonic() - began)

if phase == "throughput":
    print(f"{throughput():.0f}")
    sys.exit(0)

seen = []  # (monotonic time, largest fact id replica B serves)
polling = True
def poll():
    conn = http.client.HTTPConnection("127.0.0.1", int(port_b))
    while polling:
        conn.request("GET", "/readyz")
        response = conn.getresponse()
        version = json.loads(response.read())["data_version"]
        seen.append((time.monotonic(), int(version.split("/")[0])))
        time.sleep(0.002)
poller = threading.Thread(target=poll)
poller.start()

def latencies(writes):
    out = []
    for fact_id, done in writes:
        visible = next((t for t, served in seen if t >= done and served >= fact_id), None)
        while visible is None:
            time.sleep(0.05)
            visible = next((t for t, served in seen if t >= done and served >= fact_id), None)
        out.append((visible - done) * 1000)
    return out

def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

# Baseline: one write at a time, each awaited on B before the next.
conn = http.client.HTTPConnection("127.0.0.1", int(port_a))
idle = []
for n in range(20):
    idle += latencies([write(conn, n)])
    time.sleep(0.05)

# Sustained load: four paced writers, RATE writes a second in all.
loaded, lock = [], threading.Lock()
start = time.monotonic() + 0.2
def paced(k, count):
    conn = http.client.HTTPConnection("127.0.0.1", int(port_a))
    for i in range(count):
        due = start + (i * 4 + k) / rate
        time.sleep(max(0.0, due - time.monotonic()))
        result = write(conn, 1000 + i * 4 + k)
        with lock:
            loaded.append(result)
total = int(rate * seconds)
threads = [threading.Thread(target=paced, args=(k, total // 4)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
achieved = len(loaded) / (max(d for _, d in loaded) - start)
under_load = latencies(loaded)
polling = False
poller.join()

row = lambda name, v: print(f"| {name} | {len(v)} | {percentile(v, 50):.0f} | {percentile(v, 95):.0f} | {percentile(v, 99):.0f} |")
print(f"replica A → replica B; {rate:.0f} writes/s asked for {seconds:.0f} s, {achieved:.0f} achieved")
print("| writes | count | p50 ms | p95 ms | p99 ms |")
print("|---|---|---|---|---|")
row("one at a time, no other load (baseline)", idle)
row(f"under {rate:.0f} writes/s", under_load)
print(f"p99 under load / baseline p99: {percentile(under_load, 99) / percentile(idle, 99):.2f}")
PY
python3 "$work/propagation.py" "$port_a" "$port_b" "$key" "$rate" "$seconds" latency
rounds=()
for round in 1 2; do
    for setting in off on; do
        stop
        start $setting
        rounds+=("$setting=$(python3 "$work/propagation.py" "$port_a" "$port_b" "$key" "$rate" "$seconds" throughput)")
    done
done
python3 - "${rounds[@]}" <<'PY'
import sys
rounds = [r.split("=") for r in sys.argv[1:]]
on = [float(v) for s, v in rounds if s == "on"]
off = [float(v) for s, v in rounds if s == "off"]
print("single-fact writes/s through A, four unpaced writers, rounds in order: " + ", ".join(f"{s} {float(v):.0f}" for s, v in rounds))
print(f"with change notifications {sum(on) / len(on):.0f}, without (baseline) {sum(off) / len(off):.0f}: ratio {sum(on) / sum(off):.2f}")
PY
