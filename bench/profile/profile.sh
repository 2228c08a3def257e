#!/usr/bin/env bash
# Where shoal's CPU goes, step by step: runs `shoal udp|http|ws` (1 socket + 1 request worker)
# under the bench's load, samples it with `perf record -g` for 5 s (Deno run with
# --perf-basic-prof so JIT frames have names), and prints a Markdown table of the samples by
# thread and step, in µs per response (ws: per message) from the process's CPU time over the
# load. Needs Linux `perf` (Debian: linux-perf) and root or kernel.perf_event_paranoid <= 1.
#
# With PRIVATE_KEYS=N in the environment (udp, http), shoal runs as a private tracker over a
# SQLite database of N keys (bench/private.ts) and every request of the load carries one of them;
# PRIVATE_WRITE_INTERVAL=S sets its accounting writes' interval (shoal's default, 5 s).
# With PERF_TXT=PATH, the `perf script` output is kept there. SINGLE_THREAD=on|off sets shoal's
# `single_thread` (default: shoal's own, auto, which here is one thread for both workers; its
# rows then all read "request", the thread being named after its first role).
#
# Usage: bench/profile/profile.sh udp|http-keepalive|http-close|http-libtorrent|ws [port]
# (http-libtorrent: a connection per announce, shaped as libtorrent sends it)
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:?usage: bench/profile/profile.sh udp|http-keepalive|http-close|http-libtorrent|ws [port]}
port=${2:-3990}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
case $mode in
  udp) sub=udp ;;
  http-keepalive | http-close | http-libtorrent) sub=http ;;
  ws) sub=ws ;;
  *) echo "bench/profile/profile.sh: unknown mode $mode" >&2; exit 2 ;;
esac
# The step rules name code, not files: stop now if one names what no module declares.
python3 bench/profile/profile_steps.py --check > /dev/null
{
  echo "socket_workers = 1"
  echo "request_workers = 1"
  [ -n "${SINGLE_THREAD:-}" ] && echo "single_thread = \"$SINGLE_THREAD\""
  echo "[network]"
  echo "address = \"127.0.0.1:$port\""
  [ "$sub" = http ] && echo "max_connections_per_ip = 100000000"
  [ "$sub" = ws ] && printf '[limits]\nmax_connections_per_ip = 100000000\n'
} > "$out/shoal.toml"
keys=()
if [ "${PRIVATE_KEYS:-0}" -gt 0 ]; then
  [ "$sub" = ws ] && { echo "bench/profile/profile.sh: PRIVATE_KEYS: udp and http only" >&2; exit 2; }
  deno run --allow-all bench/private.ts "$out/private" "$PRIVATE_KEYS" \
    ${PRIVATE_WRITE_INTERVAL:+"$PRIVATE_WRITE_INTERVAL"} >> "$out/shoal.toml"
  keys=(--keys "$out/private/keys.txt")
fi
# Run from the temporary folder: V8 leaves its isolate logs in the working directory.
root=$PWD
(cd "$out" && exec deno run --v8-flags=--perf-basic-prof \
  --unstable-net --allow-net --allow-read --allow-write --allow-ffi --allow-env \
  "$root/main.ts" "$sub" -c "$out/shoal.toml") > "$out/shoal.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out"' EXIT
sleep 3
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
load=(--target "127.0.0.1:$port" --seconds 9 --warmup 1 ${keys[@]+"${keys[@]}"})
case $mode in
  udp) deno run --allow-ffi --allow-net --allow-read harness/load/udp_load.ts "${load[@]}" \
    --torrents "${TORRENTS:-100000}" --peers "${PEERS:-1000000}" --numwant 50 > "$out/load.json" 2>/dev/null & ;;
  http-keepalive) deno run --allow-all harness/load/native_load.ts http "${load[@]}" --mode keepalive \
    > "$out/load.json" 2>/dev/null & ;;
  http-close) deno run --allow-all harness/load/native_load.ts http "${load[@]}" --mode close \
    > "$out/load.json" 2>/dev/null & ;;
  http-libtorrent) deno run --allow-all harness/load/native_load.ts http "${load[@]}" \
    --mode libtorrent > "$out/load.json" 2>/dev/null & ;;
  ws) deno run --allow-all harness/load/native_load.ts ws "${load[@]}" --connections 256 \
    --torrents "${WS_TORRENTS:-16}" \
    > "$out/load.json" 2>/dev/null & ;;
esac
loadpid=$!
sleep 3
perf record -F 1999 -g -p "$pid" -o "$out/perf.data" -- sleep 5 > /dev/null 2>&1
wait $loadpid
t1=$(ticks)
perf script -i "$out/perf.data" -F comm,ip,sym,dso > "$out/perf.txt" 2> /dev/null
[ -n "${PERF_TXT:-}" ] && cp "$out/perf.txt" "$PERF_TXT"
python3 bench/profile/profile_steps.py "$out/perf.txt" "$out/load.json" "$((t1 - t0))" "$sub"
