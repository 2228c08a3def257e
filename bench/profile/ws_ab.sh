#!/usr/bin/env bash
# Before and after, side by side: starts `shoal ws` (1 socket + 1 request worker) from each of
# two checkouts in turn, PAIRS times (4), drives it with harness/load/ws_load.c for 8 s, and prints the
# CPU per message of the socket worker, the request worker and the whole process, read from
# /proc over the measured window. Alternating pairs in one run are how to compare on a noisy
# machine. Options after the two folders go to ws_load.c (e.g. --binary-ids).
#
# Usage: bench/profile/ws_ab.sh BEFORE_DIR AFTER_DIR [ws_load.c options]
set -euo pipefail
before=$(cd "${1:?usage: bench/profile/ws_ab.sh BEFORE_DIR AFTER_DIR [ws_load.c options]}" && pwd)
after=$(cd "${2:?usage: bench/profile/ws_ab.sh BEFORE_DIR AFTER_DIR [ws_load.c options]}" && pwd)
shift 2
cd "$(dirname "$0")/../.."
port=${PORT:-3997}
load=$(deno eval --ext=ts \
  'import { buildNativeLoad } from "./harness/load/native_load.ts"; console.log(await buildNativeLoad("ws_load"))')
out=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$out"' EXIT
printf 'socket_workers = 1\nrequest_workers = 1\nlog_level = "error"\n[network]\naddress = "127.0.0.1:%s"\n[limits]\nmax_connections_per_ip = 100000000\n' \
  "$port" > "$out/shoal.toml"
# "thread ticks" per line, threads named by their comm (the socket worker starts first).
threads() { for t in /proc/"$1"/task/*; do echo "$(tr ' ' _ < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done; }
echo "| checkout | messages/s | socket worker µs | request worker µs | process µs |"
echo "|---|---:|---:|---:|---:|"
for _ in $(seq "${PAIRS:-4}"); do
  for side in before after; do
    dir=$before
    [ "$side" = after ] && dir=$after
    (cd "$dir" && exec deno run --unstable-net --allow-net --allow-read --allow-write --allow-ffi \
      --allow-env main.ts ws -c "$out/shoal.toml") > "$out/shoal.log" 2>&1 &
    pid=$!
    sleep 2.5
    "$load" --target "127.0.0.1:$port" --no-progress --seconds 8 --warmup 1 "$@" > "$out/load.json" &
    loadpid=$!
    sleep 1
    threads "$pid" > "$out/t0"
    wait "$loadpid"
    threads "$pid" > "$out/t1"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    python3 - "$out" "$side" << 'EOF'
import json, sys
out, side = sys.argv[1], sys.argv[2]
r = json.load(open(f"{out}/load.json"))
def ticks(f):
    return [(l.rsplit(" ", 1)[0], int(l.rsplit(" ", 1)[1])) for l in open(f)]
t0 = dict(ticks(f"{out}/t0"))
used = [(n, v - t0.get(n, 0)) for n, v in ticks(f"{out}/t1")]
# Deno names worker threads in the order they start, and request workers start first
# (shared/runtime/mesh.ts): with 1 + 1, worker-1 is the request worker, worker-2 the socket worker.
by = dict(used)
per = lambda t: f"{t * 10000 / r['messages']:.2f}"
print(f"| {side} | {r['perSecond']:.0f} | {per(by.get('worker-2', 0))} | "
      f"{per(by.get('worker-1', 0))} | {per(sum(v for _, v in used))} |")
EOF
  done
done
