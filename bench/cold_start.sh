#!/usr/bin/env bash
# Cold start of a replica: from process start to the first `/readyz` 200,
# which comes once the snapshot is loaded and every current score computed.
# The database is prepared by a first start (not timed). Baseline, same run:
# `psql` reading the facts scoring needs out of the same database.
#
# usage: bench/cold_start.sh [public|baseline]   (default public: the
# baseline dataset with the public extract; baseline: without it, for CI)
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${1:-public}
case $dataset in
    public) data_flag=() ;;
    baseline) data_flag=(--no-public-data) ;;
    *) echo "usage: bench/cold_start.sh [public|baseline]" >&2; exit 2 ;;
esac
port=18083
work=$(mktemp -d /tmp/chokepoint-cold.XXXXXX)
chmod 755 "$work"
server=""
stop() {
    [ -n "$server" ] || return 0
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
}
trap 'stop; rm -rf "$work"' EXIT

cargo build --release -q
bin=./target/release/chokepoint
start() {
    $bin serve --port "$port" --data-dir "$work/db" "${data_flag[@]}" \
        --log-level "warn,chokepoint::live=info" --log-format json >>"$work/server.log" 2>&1 &
    server=$!
    curl -fsS --retry 1800 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port/readyz"
}
now() { date +%s.%N; }

start
stop
began=$(now)
start
ready=$(now)
rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$server/status")
sql() { psql -h "$work/db/postgres" -U postgres -d chokepoint -qAt -c "$1"; }
facts=$(sql "SELECT count(*) FROM facts")
read_began=$(now)
sql "\\copy (SELECT f.id, f.product_id, f.country, f.buyer, f.facility, f.metric, f.value, f.period_start, f.period_end, f.status, f.controlled_by, f.expected_online, f.source_id, s.kind, f.confidence, f.published_on, f.recorded_at, f.retracted_at, f.retraction_published_on FROM facts f JOIN sources s ON s.id = f.source_id) TO '/dev/null'"
read_done=$(now)

python3 - "$dataset" "$facts" "$began" "$ready" "$read_began" "$read_done" "$rss" "$work/server.log" <<'PY'
import json, sys
dataset, facts, began, ready, read_began, read_done, rss, log = sys.argv[1:]
computed = [json.loads(line)["fields"] for line in open(log)
            if line.startswith("{") and "current scores computed" in line]
last = computed[-1]
cold, read = float(ready) - float(began), float(read_done) - float(read_began)
print(f"{dataset} dataset: {int(facts):,} facts; replica RSS after start {int(rss) / 2**20:,.0f} MiB "
      f"({int(rss) / int(facts):,.0f} bytes per fact, fixed costs included)")
print("| measure | seconds |")
print("|---|---|")
print(f"| cold start to /readyz 200 | {cold:.2f} |")
print(f"| of which computing every current score ({last['buyers']} buyers × {last['products']} products, one core) | {last['seconds']:.2f} |")
print(f"| psql reading the same facts (baseline) | {read:.2f} |")
print(f"cold start / baseline: {cold / read:.1f}")
PY
