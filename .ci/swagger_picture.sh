#!/usr/bin/env bash
# Swagger UI shows a picture: starts a freshly seeded service (embedded
# PostgreSQL in a throwaway data directory), opens /docs/ in headless
# Chromium, runs GET /v1/scores/{product}/chain.svg with "Try it out" and
# "Execute", and fails unless the answer is shown as an image. The
# screenshot is kept as target/swagger-chain.png.
#
# Usage: .ci/swagger_picture.sh [PATH/TO/chokepoint]   (default target/debug/chokepoint)
# Needs Debian's `chromium` and Node.js with npm; puppeteer-core (pinned, the
# library only: it drives the system Chromium) is installed under
# target/swagger-node on first use.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BIN=${1:-$TARGET/debug/chokepoint}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
PUPPETEER_VERSION=24.43.1
PUPPETEER_DIR=$TARGET/swagger-node
SCREENSHOT=$TARGET/swagger-chain.png
log() { printf '[swagger_picture.sh] %s\n' "$*" >&2; }

[ -x "$BIN" ] || { log "no chokepoint binary at $BIN: run \`cargo build\` first"; exit 2; }
[ -n "$CHROMIUM" ] || { log "chromium is missing (apt-get install chromium)"; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null || { log "node and npm are needed"; exit 2; }

if [ "$(node -p "try { require('$PUPPETEER_DIR/node_modules/puppeteer-core/package.json').version } catch { '' }")" != "$PUPPETEER_VERSION" ]; then
    log "installing puppeteer-core $PUPPETEER_VERSION into $PUPPETEER_DIR"
    mkdir -p "$PUPPETEER_DIR"
    [ -f "$PUPPETEER_DIR/package.json" ] || echo '{"private": true}' >"$PUPPETEER_DIR/package.json"
    PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix "$PUPPETEER_DIR" --no-audit --no-fund --silent \
        "puppeteer-core@$PUPPETEER_VERSION"
fi

DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/chokepoint-swagger.XXXXXX")
chmod 755 "$DATA_DIR"
LOG=$DATA_DIR/service.log
SERVICE_PID=
cleanup() {
    local rc=$?
    if [ -n "$SERVICE_PID" ]; then
        kill -TERM "$SERVICE_PID" 2>/dev/null || true
        wait "$SERVICE_PID" 2>/dev/null || true
    fi
    [ "$rc" -eq 0 ] || { log "service log:"; tail -20 "$LOG" >&2 || true; }
    rm -rf "$DATA_DIR"
    exit "$rc"
}
trap cleanup EXIT

# The baseline's pictures are the operation's examples: no public datasets.
"$BIN" serve --data-dir "$DATA_DIR" --no-public-data --host 127.0.0.1 --port 0 --log-format json >"$LOG" 2>&1 &
SERVICE_PID=$!
PORT=
for _ in $(seq 1 300); do
    PORT=$(sed -n 's|.*serving on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$LOG" | head -1)
    [ -n "$PORT" ] && break
    kill -0 "$SERVICE_PID" 2>/dev/null || { log "the service exited at start"; exit 2; }
    sleep 0.2
done
[ -n "$PORT" ] || { log "the service did not start"; exit 2; }
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" = 200 ] && break
    sleep 0.2
done
# The first start of the embedded database seeds the baseline; wait for it.
for _ in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/v1/scores/sintered-ndfeb-magnet" || true)" = 200 ] && break
    sleep 0.2
done

rm -f "$SCREENSHOT"
CHROMIUM=$CHROMIUM PUPPETEER_DIR=$PUPPETEER_DIR timeout 180 node "$ROOT/.ci/swagger_picture.mjs" "$BASE" "$SCREENSHOT"
log "Swagger UI shows the chain picture: $SCREENSHOT"
