#!/usr/bin/env bash
# Runs the README's walkthrough as pasted against a freshly seeded service:
# every ```sh block of its "## Walkthrough" section, in order, with only
# `cargo run -q --release --` replaced by the binary given as $1 (default
# target/debug/chokepoint) on a throwaway data directory, and `BASE` by the
# port that service listens on. Fails when a
# command fails, answers a problem document, or a jq filter finds nothing.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${1:-$ROOT/target/debug/chokepoint}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
command -v jq >/dev/null || { echo "walkthrough: jq is needed (apt-get install jq)" >&2; exit 2; }

DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chokepoint-walk.XXXXXX")
chmod 755 "$DATA_DIR"
LOG=$DATA_DIR/service.log
SERVICE_PID=
cleanup() {
    if [ -n "$SERVICE_PID" ]; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA_DIR"
}
trap cleanup EXIT

"$BIN" serve --data-dir "$DATA_DIR" --port 0 --log-format json >"$LOG" 2>&1 &
SERVICE_PID=$!
PORT=
# The first start loads the public datasets before it serves (minutes with
# a debug build).
for _ in $(seq 1 3000); do
    PORT=$(sed -n 's|.*serving on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$LOG" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVICE_PID" 2>/dev/null || { cat "$LOG" >&2; exit 2; }
    sleep 0.2
done
[ -n "$PORT" ] || { echo "walkthrough: the service did not start" >&2; exit 2; }

# The walkthrough's code blocks, with the binary in place of `cargo run`.
SCRIPT=$DATA_DIR/walkthrough.sh
awk '/^## Walkthrough/ {on=1; next} /^## / {on=0} on' "$ROOT/README.md" \
    | awk '/^ *```sh/ {code=1; next} /^ *```/ {code=0; print ""; next} code' \
    | sed "s|cargo run -q --release --|\"$BIN\"|g; s|keys create |keys create --data-dir \"$DATA_DIR\" |g" \
    | sed "s|^BASE=http://127.0.0.1:8080\$|BASE=http://127.0.0.1:$PORT|" \
    >"$SCRIPT"

OUT=$DATA_DIR/out.txt
(
    set -euo pipefail
    cd "$ROOT"
    # shellcheck disable=SC1090
    source "$SCRIPT"
) >"$OUT" 2>&1 || { cat "$OUT" >&2; echo "walkthrough: a command failed" >&2; exit 1; }
if grep -q '"/problems/' "$OUT" || grep -qx 'null' "$OUT"; then
    cat "$OUT" >&2
    echo "walkthrough: a step answered a problem or found nothing" >&2
    exit 1
fi
echo "walkthrough: $(grep -c . "$SCRIPT") lines ran as pasted"
