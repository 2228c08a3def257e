#!/usr/bin/env python3
"""Sorts `perf script -F comm,ip,sym,dso` samples of shoal into the steps of a request (see
bench/profile.sh) and prints them as a Markdown table in µs per response (ws: per message).

Usage: profile_steps.py PERF_TXT LOAD_JSON CPU_TICKS udp|http|ws

CPU_TICKS is the process's user + system clock ticks (1/100 s) over the whole load, LOAD_JSON the
load generator's result line; their ratio is the CPU per response, which the sample shares split.
Worker threads are told apart by name: Deno names them worker-N in start order, and shoal starts
the request worker (worker-1) before the socket worker (worker-2).
"""
import collections
import json
import re
import sys

# (thread, regex on the innermost JS frame's "name file", step); the first match wins.
RULES = [
    ("request", r"ws/(swarms|torrent|messages|protocol|outbox|frames)\.ts", "swarms: route offers/answers, frames out"),
    ("socket", r"ws/(wire|mask|scan|json_bytes)\.ts|08_text_encoding", "WebSocket frames, JSON scan (or UTF-8 + JSON.parse)"),
    ("socket", r"ws/(connections|protocol|messages)\.ts", "validate, route, frame out"),
    ("request", r"info_hash_table\.ts|base/hash\.ts", "torrent lookup (info-hash table, hash)"),
    ("request", r"'select \S*udp/peer_list\.ts", "peer selection"),
    ("request", r"udp/peer_list\.ts|'announce \S*udp/swarms\.ts", "peer lookup and update"),
    ("request", r"request_batch\.ts|udp/codec\.ts|udp/swarms\.ts|channel\.ts", "batch read, response encode"),
    ("socket", r"udp/router\.ts|connection_id\.ts|udp/codec\.ts|'hash \S*base/hash\.ts:29", "parse, connection-ID check"),
    ("socket", r"'(responses|flush) \S*udp/forward\.ts|udp/io_ffi\.ts|udp/io\.ts", "response routing, send queue"),
    ("socket", r"udp/forward\.ts|store/shard\.ts|base/hash\.ts", "route to request worker"),
    ("socket", r"http/(request|request_head|query|percent|ip_text)\.ts", "HTTP head + query parse"),
    ("socket", r"http/front\.ts|http/socket_worker\.ts", "HTTP front (tokens, order, BEP 15 packet)"),
    ("socket", r"http/(response|response_head|bencode)\.ts", "bencode response"),
    ("socket", r"net/(tcp_epoll|libc|admission)\.ts|00_ffi", "epoll loop, FFI read/send calls"),
]


def js_of(frames):
    for f in frames:
        if "JS:" in f:
            return re.sub(r"^\S+\s+", "", f).split(" (")[0]
    return ""


def kernel_step(frames):
    for f in frames:
        m = re.search(r"__x64_sys_(\w+)", f)
        if m:
            sc = m.group(1)
            if sc in ("recvmmsg", "read", "recvfrom"):
                return "kernel: receive"
            if sc in ("sendmmsg", "sendto", "write", "writev"):
                return "kernel: send"
            if sc in ("accept4", "close", "epoll_ctl", "setsockopt", "shutdown"):
                return "kernel: accept, set-up, close"
            if sc in ("epoll_wait", "futex"):
                return "kernel: wait, wake"
            break
    return "kernel: other (interrupts, faults)"


RUNTIME = (r"message_port|02_event|postMessage|serialize|deserialize|core/0|yield\.ts|"
           r"link\.ts|00_infra|15_performance|webidl")


def main():
    perf_txt, load_json, ticks, proto = sys.argv[1:5]
    load = json.loads(open(load_json).read().strip().splitlines()[-1])
    total = load.get("total") or load.get("responses")
    us = int(ticks) * 1e4 / total
    counts = collections.Counter()
    samples = 0
    for s in open(perf_txt).read().split("\n\n"):
        lines = [line.strip() for line in s.strip().split("\n") if line.strip()]
        if len(lines) < 2:
            continue
        samples += 1
        comm, frames = lines[0].split()[0], lines[1:]
        th = {"worker-2": "socket", "worker-1": "request"}.get(comm)
        if th is None:
            counts[("other", "GC and runtime threads")] += 1
        elif "kernel" in frames[0]:
            counts[(th, kernel_step(frames))] += 1
        else:
            js = js_of(frames)
            if js == "" or re.search(RUNTIME, js):
                counts[(th, "channel, event loop, runtime")] += 1
                continue
            for t, rx, step in RULES:
                if t == th and re.search(rx, js):
                    counts[(th, step)] += 1
                    break
            else:
                counts[(th, "other JS")] += 1
    unit = "message" if proto == "ws" else "response"
    print(f"| thread | step | share | µs per {unit} |")
    print("|---|---|---:|---:|")
    order = {"socket": 0, "request": 1, "other": 2}
    for (t, k), v in sorted(counts.items(), key=lambda x: (order[x[0][0]], -x[1])):
        print(f"| {t} | {k} | {100 * v / samples:.1f}% | {us * v / samples:.2f} |")
    print(f"| | all ({samples} samples; {load['perSecond']:.0f}/s) | 100% | {us:.2f} |")


main()
