#!/usr/bin/env bash
# Every benchmark once, at a tiny size: a benchmark that no longer runs is a
# defect, and this is how CI notices. The figures mean nothing at this size;
# bench/README.md has the real runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Every script in bench/ has its tiny run below; one without fails here.
for script in bench/*.sh; do
    grep -q "bash $script " "$0" || { echo "$script has no run in .ci/benchmarks.sh" >&2; exit 1; }
done

PRODUCTS=20 bash bench/import.sh 500
DURATION=1s CONNECTIONS=4 bash bench/load.sh 20 500
bash bench/exposure.sh 2
bash bench/connectors.sh tiny
PRODUCTS=20 bash bench/memory.sh 2000
bash bench/cold_start.sh baseline
bash bench/network.sh baseline
bash bench/propagation.sh 20 2
bash bench/monitoring.sh 3 30 3 2
BENCH_SCALE=0.01 cargo bench -q --bench scoring -- --test
