"""The measuring half of bench/monitoring.sh (see there): a local webhook
receiver, the setup over HTTP, and the two comparisons, printed as the
tables of bench/README.md."""

import http.client
import json
import random
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, key, database = int(sys.argv[1]), sys.argv[2], sys.argv[3]
endpoints, rules, events, seconds = (int(a) for a in sys.argv[4:8])
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {key}"}
WRITTEN = "rare-earth-concentrate"
FACT = {"product": WRITTEN, "country": "US", "metric": "production", "unit": "t/yr",
        "period": "2024", "status": "estimate", "source_id": "usgs-mcs-2025-rare-earths",
        "locator": "Rare Earths, World Mine Production table"}

arrivals = {}  # event id -> monotonic time its first delivery arrived
arrived = threading.Condition()


class Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        now = time.monotonic()
        with arrived:
            arrivals.setdefault(self.headers["chokepoint-event-id"], now)
            arrived.notify_all()
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


receiver = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
receiver.daemon_threads = True
threading.Thread(target=receiver.serve_forever, daemon=True).start()
HOOK = f"http://127.0.0.1:{receiver.server_port}/hook"

conn = http.client.HTTPConnection("127.0.0.1", port)


def call(method, path, body=None, connection=None):
    connection = connection or conn
    connection.request(method, path, None if body is None else json.dumps(body), HEADERS)
    response = connection.getresponse()
    data = response.read()
    assert 200 <= response.status < 300, (method, path, response.status, data[:300])
    return json.loads(data) if data else None


written = [0]
written_lock = threading.Lock()


def write(connection=None, country="US"):
    """A fact that moves the written product's scores, each value the
    other extreme from the one before (facts of one key and period are
    averaged: the timed writes keep a key of their own, `US`, so each
    moves the mean well past the rule's 0.001 points); when it committed."""
    with written_lock:
        written[0] += 1
        value = 40000 if written[0] % 2 else 80000
    call("POST", "/v1/facts", {**FACT, "country": country, "value": value}, connection)
    return time.monotonic()


def ingestion():
    """Writes a second four unpaced writers get through."""
    lock, count, stop = threading.Lock(), [0], time.monotonic() + seconds

    def writer(k):
        connection, n = http.client.HTTPConnection("127.0.0.1", port), 0
        while time.monotonic() < stop:
            write(connection, country="CA")
            n += 1
        with lock:
            count[0] += n

    began = time.monotonic()
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.monotonic() - began)


def wait_for_new_event(known, within=30.0):
    deadline = time.monotonic() + within
    with arrived:
        while True:
            fresh = [t for e, t in arrivals.items() if e not in known]
            if fresh:
                return min(fresh)
            left = deadline - time.monotonic()
            assert left > 0, "no event arrived"
            arrived.wait(left)


def latencies(count):
    """Commit to webhook arrival, one write at a time, in ms."""
    out = []
    for _ in range(count):
        with arrived:
            known = set(arrivals)
        done = write()
        out.append((wait_for_new_event(known) - done) * 1000)
    return out


def armed_states():
    out = subprocess.run(["psql", database, "-tAc", "SELECT count(*) FROM alert_rule_state"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def wait_until_armed(expected, within=600.0):
    deadline = time.monotonic() + within
    while armed_states() < expected:
        assert time.monotonic() < deadline, f"{armed_states()} of {expected} rule states"
        time.sleep(0.2)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


products = call("GET", "/v1/products?limit=1000")["items"]
# Watched by the many rules: products whose scores the writes cannot move.
users = {}
for product in products:
    for edge in product.get("inputs", []):
        users.setdefault(edge["product"], []).append(product["id"])
moved, stack = set(), [WRITTEN]
while stack:
    p = stack.pop()
    if p not in moved:
        moved.add(p)
        stack.extend(users.get(p, []))
unmoved = sorted(p["id"] for p in products if p["id"] not in moved)
rng = random.Random(20261204)

# 1. Ingestion without any rule.
rate_none = ingestion()

# 2. Latency with one rule and one endpoint.
watched = call("POST", "/v1/watchlists", {"name": "measured", "buyer": "JP", "products": [WRITTEN]})
measured = call("POST", f"/v1/watchlists/{watched['id']}/rules",
                {"name": "any move", "condition": {"kind": "movement", "score": "dependency", "points": 0.001}})
call("POST", "/v1/webhooks", {"url": HOOK, "rule_ids": [measured["id"]]})
wait_until_armed(1)
base = latencies(events)

# 3. The crowd: ENDPOINTS watchlists of five products the writes do not
# move, RULES rules spread over them, one endpoint per watchlist taking
# its rules' events.
per_list = max(1, rules // max(1, endpoints))
made = 0
for i in range(endpoints):
    chosen = rng.sample(unmoved, min(5, len(unmoved)))
    watchlist = call("POST", "/v1/watchlists", {"name": f"customer {i}", "buyer": rng.choice(["US", "EU", "JP"]), "products": chosen})
    ids = []
    for j in range(per_list if i < endpoints - 1 else rules - made):
        condition = rng.choice([
            {"kind": "threshold", "score": "dependency", "threshold": rng.uniform(5, 95), "hysteresis": 2},
            {"kind": "movement", "score": "difficulty", "points": rng.uniform(1, 10)},
            {"kind": "export_control"},
        ])
        ids.append(call("POST", f"/v1/watchlists/{watchlist['id']}/rules", {"name": f"r{j}", "condition": condition})["id"])
    made += len(ids)
    call("POST", "/v1/webhooks", {"url": HOOK, "rule_ids": ids})
    if made >= rules:
        break
states = armed_states()
wait_until_armed(1 + made * 5 if len(unmoved) >= 5 else 1)
loaded = latencies(events)

# 4. Ingestion with the crowd active (the measured rule deleted: the
# writes move no watched score, so the difference is evaluation's cost).
call("DELETE", f"/v1/rules/{measured['id']}")
rate_rules = ingestion()

print(f"{made + 1} rules, {endpoints + 1} endpoints; {events} events timed, ingestion for {seconds} s each")
print("| commit → webhook | events | p50 ms | p95 ms | max ms |")
print("|---|---|---|---|---|")
row = lambda name, v: print(f"| {name} | {len(v)} | {percentile(v, 50):.0f} | {percentile(v, 95):.0f} | {max(v):.0f} |")
row("1 rule, 1 endpoint (baseline)", base)
row(f"{made + 1} rules, {endpoints + 1} endpoints", loaded)
print(f"p95 with the crowd / baseline p95: {percentile(loaded, 95) / percentile(base, 95):.2f}; target p95 < 1000 ms")
print("| ingestion | writes/s |")
print("|---|---|")
print(f"| no rule (baseline) | {rate_none:.0f} |")
print(f"| {made} rules active | {rate_rules:.0f} |")
print(f"with rules / without: {rate_rules / rate_none:.2f}; target ≥ 0.90")
