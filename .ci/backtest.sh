#!/usr/bin/env bash
# The backtest on the shipped events over the public data, as
# docs/validation.md reports it: loads the extract into a throwaway
# embedded database, runs `chokepoint backtest` and prints its tables.
# The figures are findings, not targets: nothing here asserts them.
#
# usage: .ci/backtest.sh [BINARY]   (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-}
if [ -z "$binary" ]; then
    cargo build --release -q
    binary=./target/release/chokepoint
fi
work=$(mktemp -d /tmp/chokepoint-backtest.XXXXXX)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
"$binary" import public --data-dir "$work" --log-level warn >"$work/import.log" 2>&1 \
    || { cat "$work/import.log" >&2; exit 1; }
"$binary" backtest --data-dir "$work" --log-level warn
