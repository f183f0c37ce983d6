#!/usr/bin/env bash
# Connector benchmark: each public-data connector (World Mining Data, WGI,
# BACI) reading its file, deriving its facts and writing them through the
# import path, against `psql \copy` of the same derived rows into the same
# table, on the same machine in the same run.
#
# usage: bench/connectors.sh [full|tiny]   (default full: the shipped
# extract in data/public/; tiny: the test fixtures, for CI)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-full}
work=$(mktemp -d /tmp/chokepoint-connectors.XXXXXX)
chmod 755 "$work"
port=18081
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

case $size in
    full)
        trade=data/public/baci/BACI_HS92_V202401b.csv.gz
        wmd=data/public/wmd/world_mining_data.csv
        wgi=data/public/wgi/wgi_pv_estimate.csv ;;
    tiny)
        trade=tests/fixtures/public/baci_small.csv
        wmd=tests/fixtures/public/wmd_small.csv
        wgi=tests/fixtures/public/wgi_small.csv ;;
    *) echo "usage: bench/connectors.sh [full|tiny]" >&2; exit 2 ;;
esac

cargo build --release -q
bin=./target/release/chokepoint
# A server keeps the embedded cluster up; the imports connect to its socket.
$bin serve --port "$port" --data-dir "$work/db" --no-public-data --log-level warn >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
socket="$work/db/postgres"
export DATABASE_URL="postgresql://postgres@/chokepoint?host=$socket"
$bin --log-level warn import catalogue >/dev/null

columns="product_id, country, buyer, facility, metric, value, unit, period_start, period_end, status, \
controlled_by, expected_online, source_id, confidence, published_on, quote, locator, note"
results=$work/results.txt
: >"$results"
measure() {
    local name=$1 family=$2
    shift 2
    local start end rows copy_start copy_end
    start=$(date +%s.%N)
    $bin --log-level warn import "$@" >/dev/null
    end=$(date +%s.%N)
    rows=$(psql -h "$socket" -U postgres -d chokepoint -Atc "SELECT count(*) FROM facts WHERE starts_with(source_id, '$family')")
    psql -h "$socket" -U postgres -d chokepoint -qc \
        "\\copy (SELECT $columns FROM facts WHERE starts_with(source_id, '$family')) TO '$work/$name.tsv'"
    copy_start=$(date +%s.%N)
    psql -h "$socket" -U postgres -d chokepoint -qc "\\copy facts ($columns) FROM '$work/$name.tsv'"
    copy_end=$(date +%s.%N)
    echo "$name $rows $start $end $copy_start $copy_end" >>"$results"
}
measure wmd bmf-world-mining-data- wmd --file "$wmd"
measure wgi world-bank-wgi-pv- wgi --file "$wgi"
measure baci cepii-baci-hs92- baci --trade "$trade"

python3 - "$results" "$size" <<'PY'
import sys
print(f"extract: {sys.argv[2]}")
for line in open(sys.argv[1]):
    name, rows, start, end, copy_start, copy_end = line.split()
    rows = int(rows)
    t_import = float(end) - float(start)
    t_copy = float(copy_end) - float(copy_start)
    print(f"{name}: {rows:,} facts; connector (read, derive, import) {t_import:.2f} s = {rows / t_import:,.0f} facts/s; "
          f"psql \\copy of the same rows {t_copy:.2f} s = {rows / t_copy:,.0f} rows/s; "
          f"connector throughput / psql copy throughput: {t_copy / t_import:.2f}")
PY
