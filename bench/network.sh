#!/usr/bin/env bash
# The supply network against the method before it, in one run on one
# database: each binary starts on the same data in turn (new, old, new,
# old), and the time every current score takes ("current scores computed"
# in the replica's log: all catalogued products for every buyer with
# sourcing data, one core) is read from each start. Then the dependency of
# every product for buyers US, EU and JP from each binary, side by side.
#
# usage: bench/network.sh [public|baseline] [OLD_BINARY]
#   OLD_BINARY: the service built from the commit before the network
#   (without it the current binary is compared with itself: a smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
dataset=${1:-public}
case $dataset in
    public) data_flag=() ;;
    baseline) data_flag=(--no-public-data) ;;
    *) echo "usage: bench/network.sh [public|baseline] [OLD_BINARY]" >&2; exit 2 ;;
esac
cargo build --release -q
new=./target/release/chokepoint
old=${2:-$new}
port=18086
work=$(mktemp -d /tmp/chokepoint-network.XXXXXX)
chmod 755 "$work"
server=""
stop() {
    [ -n "$server" ] || return 0
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
}
trap 'stop; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

start() {
    "$1" serve --port "$port" --data-dir "$work/db" "${data_flag[@]}" \
        --log-level "warn,chokepoint::live=info" --log-format json >"$work/$2.log" 2>&1 &
    server=$!
    curl -fsS --retry 1800 --retry-connrefused --retry-delay 1 -o /dev/null "http://127.0.0.1:$port/readyz"
}

# The first start loads the data (not timed).
start "$new" load
stop
for round in 1 2; do
    for side in new old; do
        binary=$new
        [ "$side" = old ] && binary=$old
        start "$binary" "$side-$round"
        if [ "$round" = 2 ]; then
            for buyer in US EU JP; do
                curl -fsS "http://127.0.0.1:$port/v1/scores?buyer=$buyer&limit=1000" >"$work/$side-$buyer.json"
            done
        fi
        stop
    done
done

python3 - "$work" "$dataset" <<'PY'
import json, statistics, sys
work, dataset = sys.argv[1:]
def seconds(name):
    for line in open(f"{work}/{name}.log"):
        if line.startswith("{") and "current scores computed" in line:
            fields = json.loads(line)["fields"]
    return fields["seconds"], fields["buyers"], fields["products"]
new = [seconds(f"new-{r}") for r in (1, 2)]
old = [seconds(f"old-{r}") for r in (1, 2)]
median = lambda runs: statistics.median(s for s, _, _ in runs)
print(f"{dataset} dataset: every current score, {new[0][1]} buyers × {new[0][2]} products, one core")
print("| method | seconds (two starts) | median |")
print("|---|---|---|")
print(f"| before the network | {', '.join(f'{s:.2f}' for s, _, _ in old)} | {median(old):.2f} |")
print(f"| network | {', '.join(f'{s:.2f}' for s, _, _ in new)} | {median(new):.2f} |")
print(f"network / before: {median(new) / median(old):.2f}")
print()
def dependencies(side, buyer):
    items = json.load(open(f"{work}/{side}-{buyer}.json"))["items"]
    return {i["product"]: i["dependency"] for i in items}
tables = {b: (dependencies("old", b), dependencies("new", b)) for b in ("US", "EU", "JP")}
fmt = lambda v: "–" if v is None else f"{v:.1f}"
print("| product | US before | US after | EU before | EU after | JP before | JP after |")
print("|---|---|---|---|---|---|---|")
for product in sorted(tables["US"][1]):
    cells = []
    for buyer in ("US", "EU", "JP"):
        before, after = tables[buyer]
        cells += [fmt(before.get(product)), fmt(after.get(product))]
    print(f"| {product} | " + " | ".join(cells) + " |")
PY
