#!/usr/bin/env python3
"""Sorts `perf script -F comm,ip,sym,dso` samples of shoal into the steps of a request (see
profile.sh) and prints them as a Markdown table in µs per response (ws: per message).

Usage:
  profile_steps.py PERF_TXT LOAD_JSON CPU_TICKS udp|http|ws   the table
  profile_steps.py --check [ROOT]                             which module each rule names
  profile_steps.py --self-test                                classify made-up samples

CPU_TICKS is the process's user + system clock ticks (1/100 s) over the whole load, LOAD_JSON the
load generator's result line; their ratio is the CPU per response, which the sample shares split.
Worker threads are told apart by name: Deno names them worker-N in start order, and shoal starts
the request worker (worker-1) before the socket worker (worker-2).

A sample goes to the step of its innermost JavaScript frame. Rules name code, not files: a rule
names a class or function, and matches the frames of whichever module declares it, wherever that
module lives (optionally only the frames of some of its functions: V8 names a frame by its
function alone, without its class). The module of each name is looked up in the source tree when
the script runs, so moving or renaming a file needs no edit here; renaming a class a rule names
does, and `--check` (which profile.sh runs first) says so.
"""
import collections
import json
import os
import re
import sys

# (thread, code, step), the first match wins. `code` is "Name" (every frame of the module that
# declares Name), "Name:fn|fn2" (only the frames of those functions of that module, by V8's
# name: methods without their class, private ones with their #), or "deno:regex" (Deno's own
# scripts, by their ext: URL).
RULES = [
    ("request", "WsSwarms WsTorrent BatchOutbox writeFrameHead", "swarms: route offers/answers, frames out"),
    ("request", "readRequests validate", "swarms: route offers/answers, frames out"),
    ("socket", "WireConnection unmask scanMessage stringEnd deno:08_text_encoding", "WebSocket frames, JSON scan (or UTF-8 + JSON.parse)"),
    ("socket", "Connections readRequests validate", "validate, route, frame out"),
    ("request", "InfoHashTable", "torrent lookup (info-hash table, hash)"),
    ("request", "PeerLists:select", "peer selection"),
    ("request", "PeerLists Swarms:announce", "peer lookup and update"),
    ("request", "handleRequestBatch Swarms PendingScrapes writeAnswerHeader BatchWriter", "batch read, response encode"),
    ("socket", "Router:handleBatch|#announce|#scrape|#error ConnectionIds classify", "parse, connection-ID check"),
    ("socket", "Router Forwarder:responses|flush openFfiSocket openSocket", "response routing, send queue"),
    ("socket", "Forwarder Sharder", "route to request worker"),
    ("socket", "RequestParser parseHead parseAnnounceQuery decodeValue parseIPv4Text", "HTTP head + query parse"),
    ("socket", "HttpConnection:receive|#parse|#hold|#resume", "HTTP head + query parse"),
    ("socket", "HttpFront:request|#announceRequest|#scrapeRequest|#token|#redeem|#clientAddr|trustsProxy|open Tokens forwardAnnounce", "HTTP front (tokens, order, core records)"),
    ("socket", "HttpFront HttpConnection readAnswer writeAnnounceResponse beginResponse writeInt", "bencode response, send queue"),
    ("socket", "EpollServer Poller lib Admission deno:00_ffi", "epoll loop, FFI read/send calls"),
]

# Code that is a step of whoever calls it: its samples go to the first frame outside it.
HELPERS = "HalfSipHash13 getU32BE"

# The channel between the threads, the event loop and Deno's runtime, ours and Deno's.
RUNTIME = "Link readLoop readAll pending controlPending onceAfterTurn serveSockets serveRequests Mesh " + \
    "deno:message_port|02_event|postMessage|serialize|deserialize|core/0|00_infra|15_performance|webidl"

# Folders that hold no program code: what a rule names is looked up elsewhere.
NOT_PROGRAM = {"tests", "bench", "harness", "node_modules", ".cache", ".git", "dist"}

DECLARATION = re.compile(
    r"^(?:export\s+)?(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?"
    r"(?:function\*?|class|const|let|var|interface|type|enum)\s+([A-Za-z_$][\w$]*)",
    re.M)


def declarations(root):
    """Top-level name -> the program modules (paths under root) that declare it."""
    where = collections.defaultdict(set)
    for d, dirs, files in os.walk(root):
        if d == root:
            dirs[:] = [x for x in dirs if x not in NOT_PROGRAM]
        for f in files:
            if f.endswith(".ts"):
                path = os.path.relpath(os.path.join(d, f), root)
                with open(os.path.join(d, f), encoding="utf-8") as src:
                    for name in DECLARATION.findall(src.read()):
                        where[name].add(path)
    return where


class Code:
    """A resolved `code` spec: modules (and maybe functions of them), or Deno's own scripts."""

    def __init__(self, spec, where, problems):
        self.modules = {}  # path -> set of function names, or None for every function
        self.deno = []
        for part in spec.split():
            if part.startswith("deno:"):
                self.deno.append(re.compile(part[5:]))
                continue
            name, _, fns = part.partition(":")
            paths = where.get(name, set())
            if len(paths) != 1:
                problems.append(f"{name}: declared in {sorted(paths) or 'no module'}, not one")
                continue
            path = next(iter(paths))
            if fns:
                self.modules.setdefault(path, set())
                if self.modules[path] is not None:
                    self.modules[path].update(fns.split("|"))
            else:
                self.modules[path] = None

    def matches(self, frame):
        if frame.path is None:
            return any(r.search(frame.script) for r in self.deno)
        if frame.path not in self.modules:
            return False
        fns = self.modules[frame.path]
        return fns is None or frame.name in fns


class Frame:
    """A JavaScript frame: V8's function name, and its script as a program path or Deno URL."""

    def __init__(self, name, script, root):
        self.name = name
        self.script = script
        prefix = "file://" + os.path.abspath(root) + "/"
        self.path = script[len(prefix):] if script.startswith(prefix) else None


# `JS:*'announce file:///repo/core/swarms.ts:105:3`: a tier mark (`~` `^` `+` `*`, maybe after
# a letter for on-stack replacement) and a quote before the name, which vary by V8 version.
JS_FRAME = re.compile(r"\bJS:[a-z]?[*~^+]*'?([\w$#.<>]*)\s+(\S+?)(?::\d+){0,2}(?:\s|$)")


def js_frames(frames, root):
    out = []
    for f in frames:
        m = JS_FRAME.search(f)
        if m:
            out.append(Frame(m.group(1), m.group(2), root))
    return out


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


class Classifier:
    """Resolves the rules against the source tree at `root` and sorts samples into steps."""

    def __init__(self, root):
        where = declarations(root)
        self.problems = []
        self.root = root
        self.rules = [(t, Code(spec, where, self.problems), step) for t, spec, step in RULES]
        self.helpers = Code(HELPERS, where, self.problems)
        self.runtime = Code(RUNTIME, where, self.problems)

    def step(self, thread, frames):
        """The step of one sample of `thread` (socket, request) with its `perf script` frames."""
        if "kernel" in frames[0]:
            return kernel_step(frames)
        js = js_frames(frames, self.root)
        inner = next((f for f in js if not self.helpers.matches(f)), js[0] if js else None)
        if inner is None or self.runtime.matches(inner):
            return "channel, event loop, runtime"
        for t, code, step in self.rules:
            if t == thread and code.matches(inner):
                return step
        return "other JS"


def samples(text):
    """(comm, frames) of each sample of `perf script` output."""
    for s in text.split("\n\n"):
        lines = [line.strip() for line in s.strip().split("\n") if line.strip()]
        if len(lines) >= 2:
            yield lines[0].split()[0], lines[1:]


def table(classifier, perf_text, load, proto):
    total = load.get("total") or load.get("responses")
    us = load["ticks"] * 1e4 / total
    counts = collections.Counter()
    n = 0
    for comm, frames in samples(perf_text):
        n += 1
        thread = {"worker-2": "socket", "worker-1": "request"}.get(comm)
        if thread is None:
            counts[("other", "GC and runtime threads")] += 1
        else:
            counts[(thread, classifier.step(thread, frames))] += 1
    unit = "message" if proto == "ws" else "response"
    out = [f"| thread | step | share | µs per {unit} |", "|---|---|---:|---:|"]
    order = {"socket": 0, "request": 1, "other": 2}
    for (t, k), v in sorted(counts.items(), key=lambda x: (order[x[0][0]], -x[1])):
        out.append(f"| {t} | {k} | {100 * v / n:.1f}% | {us * v / n:.2f} |")
    out.append(f"| | all ({n} samples; {load['perSecond']:.0f}/s) | 100% | {us:.2f} |")
    return "\n".join(out)


def check(root):
    c = Classifier(root)
    for _, code, step in [*c.rules, ("", c.helpers, "(helpers: the caller's step)"),
                          ("", c.runtime, "channel, event loop, runtime")]:
        print(f"{step}: {', '.join(sorted(code.modules)) or '-'}")
    for p in c.problems:
        print(f"profile_steps.py: rule names {p}", file=sys.stderr)
    return 1 if c.problems else 0


def self_test():
    """Classifies made-up samples in a made-up tree: a module moved keeps its step."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        def module(path, text):
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w") as f:
                f.write(text)
        for _, spec, _ in [*RULES, ("", HELPERS, ""), ("", RUNTIME, "")]:
            for part in spec.split():
                if not part.startswith("deno:"):
                    name = part.split(":")[0]
                    module(f"somewhere/{name}/{name}.ts", f"export class {name} {{}}\n")
        module("tests/copy.ts", "export class PeerLists {}\n")  # not program code: not a second
        c = Classifier(root)
        assert c.problems == [], c.problems
        url = "file://" + os.path.abspath(root)

        def frame(name, decl):
            return f"7f00 JS:*'{name} {url}/somewhere/{decl}/{decl}.ts:10:3 (/tmp/perf-1.map)"
        cases = [
            ("request", [frame("select", "PeerLists")], "peer selection"),
            ("request", [frame("find", "PeerLists")], "peer lookup and update"),
            ("request", [frame("announce", "Swarms")], "peer lookup and update"),
            ("request", [frame("scrape", "Swarms")], "batch read, response encode"),
            ("request", [frame("hash", "HalfSipHash13"), frame("find", "InfoHashTable")],
             "torrent lookup (info-hash table, hash)"),
            ("socket", [frame("hash", "HalfSipHash13"), frame("shard", "Sharder")],
             "route to request worker"),
            ("socket", [frame("#announce", "Router")], "parse, connection-ID check"),
            ("socket", [frame("announced", "Router")], "response routing, send queue"),
            ("socket", ["7f00 JS:*'decode ext:deno_web/08_text_encoding.js:100:5 (x)"],
             "WebSocket frames, JSON scan (or UTF-8 + JSON.parse)"),
            ("socket", [frame("onmessage", "Link")], "channel, event loop, runtime"),
            ("socket", ["ffffffff __x64_sys_sendmmsg ([kernel.kallsyms])"], "kernel: send"),
            ("request", [frame("elsewhere", "nothing")], "other JS"),
        ]
        for thread, frames, want in cases:
            got = c.step(thread, frames)
            assert got == want, f"{frames[0]}: {got}, not {want}"
        # A rule that names what no module declares is reported, not silently empty.
        os.remove(os.path.join(root, "somewhere/Tokens/Tokens.ts"))
        assert any(p.startswith("Tokens:") for p in Classifier(root).problems)
    print(f"profile_steps.py: self-test passed ({len(cases)} samples)")
    return 0


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    if argv[:1] == ["--self-test"]:
        return self_test()
    if argv[:1] == ["--check"]:
        return check(argv[1] if len(argv) > 1 else repo)
    perf_txt, load_json, ticks, proto = argv[:4]
    c = Classifier(repo)
    for p in c.problems:
        print(f"profile_steps.py: rule names {p}", file=sys.stderr)
    with open(load_json) as f:
        load = json.loads(f.read().strip().splitlines()[-1])
    load["ticks"] = int(ticks)
    with open(perf_txt) as f:
        print(table(c, f.read(), load, proto))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
