#!/usr/bin/env bash
# Memory per fact in a replica: the resident set of a freshly started
# replica (every current score computed) over the same products with
# STEP, then 2 × STEP facts. The slope (growth / STEP facts added) leaves
# fixed costs out. Baseline, same run: what PostgreSQL stores per fact row.
#
# usage: bench/memory.sh [STEP]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
step=${1:-1000000}
products=${PRODUCTS:-2000}
port=18082
work=$(mktemp -d /tmp/chokepoint-memory.XXXXXX)
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
python3 bench/gen_facts.py "$step" "$products" "$work/first" 1
python3 bench/gen_facts.py "$step" "$products" "$work/second" 2
bin=./target/release/chokepoint

start() {
    $bin serve --port "$port" --data-dir "$work/db" --no-seed --no-public-data --log-level warn \
        --rate-limit 1000000 --rate-burst 1000000 >>"$work/server.log" 2>&1 &
    server=$!
    curl -fsS --retry 600 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port/readyz"
}
rss() { awk '/VmRSS/ {print $2 * 1024}' "/proc/$server/status"; }
socket="$work/db/postgres"
sql() { psql -h "$socket" -U postgres -d chokepoint -qAt -c "$1"; }
copy() {
    sql "\\copy facts (product_id, country, buyer, facility, metric, value, unit, period_start, period_end, status, controlled_by, expected_online, source_id, confidence, quote, locator, note) FROM '$1'"
    sql "VACUUM ANALYZE facts" >/dev/null
}

start
key=$($bin keys create --scope admin --name bench --data-dir "$work/db" 2>/dev/null)
python3 bench/post_setup.py "$port" "$key" "$work/first.setup.ndjson"
stop; start
rss_empty=$(rss)

copy "$work/first.tsv"
stop; start
rss_one=$(rss)
table_one=$(sql "SELECT pg_total_relation_size('facts')")

copy "$work/second.tsv"
stop; start
rss_two=$(rss)
table_two=$(sql "SELECT pg_total_relation_size('facts')")
facts=$(sql "SELECT count(*) FROM facts")

python3 - "$step" "$products" "$facts" "$rss_empty" "$rss_one" "$rss_two" "$table_one" "$table_two" <<'PY'
import sys
step, products, facts, rss_empty, rss_one, rss_two, table_one, table_two = map(int, sys.argv[1:])
slope = (rss_two - rss_one) / step
row = (table_two - table_one) / step
mib = lambda b: f"{b / 2**20:,.0f} MiB"
print(f"{products} products; replica RSS: {mib(rss_empty)} with no facts, "
      f"{mib(rss_one)} with {step:,}, {mib(rss_two)} with {facts:,}")
print("| measure | bytes per fact |")
print("|---|---|")
print(f"| replica RSS slope, {step:,} → {2 * step:,} facts | {slope:,.0f} |")
print(f"| PostgreSQL, the same facts (table and indexes; baseline) | {row:,.0f} |")
print(f"replica / PostgreSQL: {slope / row:.2f}")
PY
