#!/usr/bin/env bash
# Measures the peak RSS of `verdict dev` under two memory attacks (issue 8):
#   1. eight concurrent 1 MiB bodies of resource.attributes {"a":[0,0,...]},
#      sent in a loop for DURATION seconds;
#   2. 300 anonymous checks with a 1 MB action (finding 1).
# It prints the resident set after start-up, the peak (VmHWM) and how the
# requests were answered.
#
# Usage: testdata/memattack/run.sh [SRC_DIR]
#   SRC_DIR is the checkout to build (default: this repository), so that an
#   older tree (a `git worktree`) can be measured the same way.
# Environment: PORT (default 18089), DURATION seconds (default 5),
#   VERDICT_* flags are passed through to the server.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "${1:-$here/../..}" && pwd)
port=${PORT:-18089}
duration=${DURATION:-5}
work=$(mktemp -d)
pid=""
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$src" && go build -o "$work/verdict" ./cmd/verdict)

# The bodies: ~1 MiB of zeros in one attribute, and a 1 MB action.
python3 - "$work" <<'PY'
import sys
w = sys.argv[1]
n = (1 << 20) // 2 - 64
open(w + "/big.json", "w").write('{"action":"tasks:read","resource":{"type":"task","attributes":{"a":[' + ",".join(["0"] * n) + ']}}}')
open(w + "/action.json", "w").write('{"action":"' + "a" * 1000000 + '"}')
PY

(cd "$src" && exec "$work/verdict" dev --addr "127.0.0.1:$port" --log-level warn) >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break
	sleep 0.1
done
rss() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' "/proc/$pid/status"; }
echo "source:        $src"
echo "after start:   RSS $(rss VmRSS) MB"

post() { # file → status code
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
		--data-binary "@$1" "http://127.0.0.1:$port/v1/check"
}

# Attack 1: eight workers, each posting the 1 MiB body back to back.
end=$((SECONDS + duration))
for i in $(seq 8); do
	(while ((SECONDS < end)); do post "$work/big.json"; done) >"$work/codes.big.$i" &
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
echo "attack 1 (8 x 1 MiB for ${duration}s): peak RSS $(rss VmHWM) MB; answers: $(cat "$work"/codes.big.* | sort | uniq -c | tr -s ' \n' ' ')"

# Attack 2: 300 anonymous checks with a 1 MB action, 8 at a time.
seq 300 | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
	--data-binary "@$work/action.json" "http://127.0.0.1:$port/v1/check" >"$work/codes.action"
echo "attack 2 (300 x 1 MB action):   peak RSS $(rss VmHWM) MB; answers: $(sort "$work/codes.action" | uniq -c | tr -s ' \n' ' ')"
sleep 1
echo "after attacks: RSS $(rss VmRSS) MB; /healthz $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")"
