#!/usr/bin/env python3
"""Two libtorrent sessions that find each other only through a UDP tracker move a file.

Usage:
  libtorrent_transfer.py --tracker udp://127.0.0.1:PORT/announce [--ipv6] [--timeout 60]
                         [--size BYTES] [--seed N]
  libtorrent_transfer.py --print-infohash --seed N [--size BYTES]
  libtorrent_transfer.py --tracker URL --expect-tracker-error [--timeout 60]

A seeder and a leecher (two sessions in this process) listen on loopback only, with DHT, LSD,
PEX, UPnP and NAT-PMP off and the given tracker as the torrent's only tracker, so the tracker is
the only way they can learn of each other. Once the leecher seeds and its bytes match, the
leecher scrapes the tracker.

Prints ONE JSON line on stdout: ok, bytes, sha1_match, seconds, scrape {complete, incomplete,
downloaded} (null when no scrape reply came), peers_seen, errors, warnings, info_hash, reason;
with --scrape-udp, udp_scrape {seeders, completed, leechers} of that other tracker.
Exit status 0 only when the leecher got the whole file, byte for byte; 1 otherwise (reason says
why), 2 for usage errors or a missing libtorrent, 3 when the watchdog had to end a hung run.

--seed makes the payload (hence the info hash) deterministic, so a tracker that only serves
allow-listed hashes (Debian's opentracker) can be told the hash first with --print-infohash.
The torrent is v1 only: one 20-byte info hash, one swarm on the tracker.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

PAYLOAD = "payload.bin"
PIECE_SIZE = 64 * 1024


def emit(result, code):
    """Prints the one JSON line (and the reason on stderr) and exits with `code`."""
    if result.get("reason"):
        print(f"libtorrent_transfer: {result['reason']}", file=sys.stderr, flush=True)
    print(json.dumps(result), flush=True)
    return code


try:
    import libtorrent as lt
except ImportError as e:  # the Deno test checks this itself; still report it the same way
    sys.exit(emit({"ok": False, "reason": f"cannot import libtorrent: {e}"}, 2))


def settings(listen):
    return {
        "listen_interfaces": listen,
        # No way to find peers other than the tracker.
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        # Both sessions share one loopback address, each on its own port.
        "allow_multiple_connections_per_ip": True,
        # Loopback tracker and peers: don't let the SSRF checks or the privileged-port rule
        # reject anything (neither should apply to a UDP tracker on /announce with ephemeral
        # peer ports, but the test must not hinge on that).
        "ssrf_mitigation": False,
        "no_connect_privileged_ports": False,
        # Loopback counts as a local network: no rate limits there either way.
        "ignore_limits_on_local_network": True,
        # Honour whatever interval the tracker answers; the script forces re-announces itself.
        "min_announce_interval": 1,
        "tracker_completion_timeout": 10,
        "tracker_receive_timeout": 5,
        # Don't let the session destructor wait long for `stopped` announces.
        "stop_tracker_timeout": 1,
        "alert_mask": (lt.alert.category_t.status_notification
                       | lt.alert.category_t.tracker_notification
                       | lt.alert.category_t.error_notification
                       | lt.alert.category_t.storage_notification),
        "user_agent": "shoal-interop",
    }


def payload_bytes(size, seed):
    if seed is None:
        return os.urandom(size)
    return random.Random(seed).randbytes(size)


def make_torrent(root, data, tracker):
    """Writes `data` to root/PAYLOAD and returns (torrent_info, sha1 of data)."""
    with open(os.path.join(root, PAYLOAD), "wb") as f:
        f.write(data)
    fs = lt.file_storage()
    lt.add_files(fs, os.path.join(root, PAYLOAD))
    t = lt.create_torrent(fs, PIECE_SIZE, lt.create_torrent.v1_only)
    if tracker:
        t.add_tracker(tracker)
    t.set_creator("shoal interop test")
    lt.set_piece_hashes(t, root)
    info = lt.torrent_info(lt.bencode(t.generate()))
    return info, hashlib.sha1(data).hexdigest()


def info_hash_hex(info):
    return str(info.info_hashes().v1)


def scrape_downloaded(handle):
    """The tracker's `downloaded` count from the last scrape (scrape_reply_alert lacks it)."""
    best = -1
    for tracker in handle.trackers():
        for ep in tracker.get("endpoints", []):
            for ih in ep.get("info_hashes", []):
                best = max(best, ih.get("scrape_downloaded", -1))
    return best if best >= 0 else None


def udp_scrape(target, info_hash, timeout=2.0):
    """BEP 15 connect and scrape of one info hash at HOST:PORT: {seeders, completed, leechers},
    or None when no answer came after three tries."""
    import socket
    import struct
    host, port = target.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        for _ in range(3):
            try:
                tid = random.getrandbits(31)
                sock.sendto(struct.pack(">QII", 0x41727101980, 0, tid), (host.strip("[]"), int(port)))
                r = sock.recv(2048)
                if len(r) < 16 or struct.unpack(">II", r[:8]) != (0, tid):
                    continue
                cid = r[8:16]
                tid = random.getrandbits(31)
                sock.sendto(cid + struct.pack(">II", 2, tid) + info_hash, (host.strip("[]"), int(port)))
                r = sock.recv(2048)
                if len(r) >= 20 and struct.unpack(">II", r[:8]) == (2, tid):
                    s, c, l = struct.unpack(">III", r[8:20])
                    return {"seeders": s, "completed": c, "leechers": l}
            except socket.timeout:
                continue
        return None
    finally:
        sock.close()


def run(args, work, result):
    errors, warnings = result["errors"], result["warnings"]
    seed_dir = os.path.join(work, "seed")
    leech_dir = os.path.join(work, "leech")
    os.makedirs(seed_dir)
    os.makedirs(leech_dir)
    data = payload_bytes(args.size, args.seed)
    info, want_sha1 = make_torrent(seed_dir, data, args.tracker)
    result["info_hash"] = info_hash_hex(info)
    del data

    started = time.monotonic()
    deadline = started + args.timeout
    listen = "[::1]:0" if args.ipv6 else "127.0.0.1:0"
    seeder_ses = lt.session(settings(listen))
    leecher_ses = lt.session(settings(listen))
    sessions = {"seeder": seeder_ses, "leecher": leecher_ses}
    no_discovery = (lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
                    | lt.torrent_flags.disable_pex)
    # Neither paused nor auto-managed: both start at once and the queue never holds them back.
    seeder = seeder_ses.add_torrent({"ti": info, "save_path": seed_dir,
                                     "flags": no_discovery | lt.torrent_flags.seed_mode})
    leecher = None
    handles = {"seeder": seeder}
    force = lt.reannounce_flags_t.ignore_min_interval

    state = {
        "seeder_announced": False,  # the seeder's first announce got a reply (or failed)
        "finished": False,          # torrent_finished_alert from the leecher
        "completed_replied": False,  # a leecher announce reply after it finished
        "scrape": None,
        "seeder_replies": 0,        # the seeder's announce replies so far
    }

    def drain():
        for who, ses in sessions.items():
            for a in ses.pop_alerts():
                if isinstance(a, lt.tracker_error_alert):
                    errors.append(f"{who}: {a.message()}")
                    if who == "seeder":
                        state["seeder_announced"] = True
                elif isinstance(a, lt.scrape_failed_alert):
                    errors.append(f"{who} scrape: {a.message()}")
                elif isinstance(a, lt.tracker_warning_alert):
                    warnings.append(f"{who}: {a.message()}")
                elif isinstance(a, (lt.listen_failed_alert, lt.file_error_alert,
                                    lt.torrent_error_alert)):
                    errors.append(f"{who}: {a.message()}")
                elif isinstance(a, lt.tracker_reply_alert):
                    if who == "seeder":
                        state["seeder_announced"] = True
                        state["seeder_replies"] += 1
                    else:
                        result["peers_seen"] = max(result["peers_seen"], a.num_peers)
                        if state["finished"]:
                            state["completed_replied"] = True
                elif isinstance(a, lt.torrent_finished_alert) and who == "leecher":
                    # Alerts of one session arrive in order, so the next leecher reply after
                    # this one answers the `completed` announce libtorrent sends on finishing.
                    state["finished"] = True
                elif isinstance(a, lt.scrape_reply_alert) and who == "leecher":
                    state["scrape"] = {"complete": a.complete, "incomplete": a.incomplete,
                                       "downloaded": scrape_downloaded(a.handle)}

    def wait_until(cond, until):
        while time.monotonic() < until:
            drain()
            if cond():
                return True
            time.sleep(0.05)
        drain()
        return cond()

    # 1. The seeder announces first, so the tracker already knows it when the leecher asks.
    if not wait_until(lambda: state["seeder_announced"], min(deadline, started + 15)):
        errors.append("seeder: no announce reply within 15 s")

    # 2. The leecher; if its answer lacked the seeder, re-announce (ignoring the interval).
    leecher = leecher_ses.add_torrent({"ti": info, "save_path": leech_dir, "flags": no_discovery})
    if args.leecher_tracker:
        # The leecher talks to the tracker over another protocol (e.g. HTTP, the seeder UDP).
        leecher.replace_trackers([lt.announce_entry(args.leecher_tracker)])
        leecher.force_reannounce(0, -1, force)
    handles["leecher"] = leecher
    leech_started = time.monotonic()
    last_force = leech_started
    while time.monotonic() < deadline:
        drain()
        st = leecher.status()
        if st.is_seeding:
            break
        now = time.monotonic()
        if st.num_peers == 0 and now - last_force >= 2:
            leecher.force_reannounce(0, -1, force)
            seeder.force_reannounce(0, -1, force)
            last_force = now
        time.sleep(0.05)
    else:
        result["reason"] = (f"the leecher did not finish within {args.timeout:g} s "
                            f"(progress {leecher.status().progress:.0%}, "
                            f"peers_seen {result['peers_seen']})")
    done = leecher.status().is_seeding
    if done:
        result["seconds"] = round(time.monotonic() - leech_started, 2)

        # 3. Let the `completed` announce be answered, then scrape (retrying on silence).
        if not wait_until(lambda: state["completed_replied"],
                          min(deadline, time.monotonic() + 10)):
            warnings.append("no announce reply after the leecher finished")
        # The seeder tells the tracker what it uploaded in an announce of its own, answered,
        # not only in the `stopped` one its session sends (unanswered) while shutting down.
        replies = state["seeder_replies"]
        seeder.force_reannounce(0, -1, force)
        if not wait_until(lambda: state["seeder_replies"] > replies,
                          min(deadline, time.monotonic() + 10)):
            warnings.append("no seeder announce reply after the transfer")
        asked = 0
        while asked < 4 and state["scrape"] is None and time.monotonic() < deadline:
            leecher.scrape_tracker()
            asked += 1
            wait_until(lambda: state["scrape"] is not None, min(deadline, time.monotonic() + 3))
        result["scrape"] = state["scrape"]
        if args.scrape_udp:
            # Another tracker, asked directly while both sessions still seed (a cluster's node
            # that neither client spoke to).
            result["udp_scrape"] = udp_scrape(args.scrape_udp, bytes.fromhex(result["info_hash"]))

    for ses in sessions.values():
        ses.pause()
    drain()

    path = os.path.join(leech_dir, PAYLOAD)
    if os.path.exists(path):
        h = hashlib.sha1()
        n = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                n += len(chunk)
        result["bytes"] = n
        result["sha1_match"] = n == args.size and h.hexdigest() == want_sha1
    result["ok"] = done and result["sha1_match"]
    if done and not result["sha1_match"]:
        result["reason"] = "the leecher seeds but its file differs from the original"
    # Drop the handles and sessions (closing their files) before the caller removes the dir.
    handles.clear()
    sessions.clear()
    del seeder, leecher, seeder_ses, leecher_ses


def seed_only(args):
    """Seeds a torrent for another client (e.g. aria2) until stdin closes or the timeout."""
    work = tempfile.mkdtemp(prefix="shoal-lt-seed-")
    try:
        data = payload_bytes(args.size, args.seed)
        info, sha1 = make_torrent(work, data, args.tracker)
        with open(args.seed_only, "wb") as f:
            f.write(lt.bencode(lt.create_torrent(info).generate()))
        listen = "[::1]:0" if args.ipv6 else "127.0.0.1:0"
        ses = lt.session(settings(listen))
        no_discovery = (lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
                        | lt.torrent_flags.disable_pex)
        h = ses.add_torrent({"ti": info, "save_path": work,
                             "flags": no_discovery | lt.torrent_flags.seed_mode})
        emit({"ready": True, "info_hash": info_hash_hex(info), "sha1": sha1, "bytes": len(data)},
             None)
        done = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        last = time.monotonic()
        deadline = last + args.timeout
        while not done.is_set() and time.monotonic() < deadline:
            ses.pop_alerts()
            if time.monotonic() - last > 2:  # keep the tracker fresh for the downloader
                h.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)
                last = time.monotonic()
            time.sleep(0.1)
        ses.pause()
        del h, ses
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def expect_tracker_error(args):
    """One seeding session announces to --tracker until the tracker refuses it (or --timeout).

    Prints one JSON line: ok (a tracker error came and no announce was answered), tracker_errors
    (each alert's message(), error.message() and failure_reason(): the tracker's text, which
    libtorrent 2.0 leaves empty for a UDP tracker's error), replies (announce replies, 0 when
    refused), errors, warnings, info_hash, reason. Exit status 0 when ok, 1 otherwise.
    """
    result = {"ok": False, "tracker_errors": [], "replies": 0, "errors": [], "warnings": [],
              "info_hash": None, "reason": None, "tracker": args.tracker}
    work = tempfile.mkdtemp(prefix="shoal-lt-refused-")
    try:
        info, _ = make_torrent(work, payload_bytes(args.size, args.seed), args.tracker)
        result["info_hash"] = info_hash_hex(info)
        listen = "[::1]:0" if args.ipv6 else "127.0.0.1:0"
        ses = lt.session(settings(listen))
        no_discovery = (lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd
                        | lt.torrent_flags.disable_pex)
        h = ses.add_torrent({"ti": info, "save_path": work,
                             "flags": no_discovery | lt.torrent_flags.seed_mode})
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and not result["tracker_errors"]:
            for a in ses.pop_alerts():
                if isinstance(a, lt.tracker_error_alert):
                    result["tracker_errors"].append({"message": a.message(),
                                                     "error": a.error.message(),
                                                     "failure_reason": a.failure_reason()})
                elif isinstance(a, lt.tracker_reply_alert):
                    result["replies"] += 1
                elif isinstance(a, lt.tracker_warning_alert):
                    result["warnings"].append(a.message())
                elif isinstance(a, (lt.listen_failed_alert, lt.file_error_alert,
                                    lt.torrent_error_alert)):
                    result["errors"].append(a.message())
            time.sleep(0.05)
        result["ok"] = bool(result["tracker_errors"]) and result["replies"] == 0
        if not result["tracker_errors"]:
            result["reason"] = f"no tracker error within {args.timeout:g} s"
        elif result["replies"]:
            result["reason"] = "the tracker answered an announce it should have refused"
        ses.pause()
        del h, ses
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return emit(result, 0 if result["ok"] else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracker", help="the torrent's tracker: udp://HOST:PORT/announce, http://...")
    ap.add_argument("--leecher-tracker", help="another tracker URL for the leecher only")
    ap.add_argument("--scrape-udp", metavar="HOST:PORT",
                    help="after the transfer, also scrape this UDP tracker (udp_scrape in the JSON)")
    ap.add_argument("--seed-only", metavar="TORRENT",
                    help="only seed: write the .torrent to TORRENT, print one JSON line, seed "
                         "until stdin closes or --timeout")
    ap.add_argument("--ipv6", action="store_true", help="peers listen on [::1] instead of 127.0.0.1")
    ap.add_argument("--timeout", type=float, default=60, help="seconds for the whole run")
    ap.add_argument("--size", type=int, default=3 * 1024 * 1024, help="payload bytes")
    ap.add_argument("--seed", type=int, help="make the payload (and info hash) deterministic")
    ap.add_argument("--expect-tracker-error", action="store_true",
                    help="only one seeding session: announce until the tracker refuses it, and "
                         "report the tracker error alerts")
    ap.add_argument("--print-infohash", action="store_true",
                    help="print the torrent's hex info hash for --seed/--size and exit")
    args = ap.parse_args()
    if args.size <= 0:
        ap.error("--size must be positive")

    if args.print_infohash:
        if args.seed is None:
            ap.error("--print-infohash needs --seed (a random payload has a random hash)")
        work = tempfile.mkdtemp(prefix="shoal-lt-")
        try:
            info, _ = make_torrent(work, payload_bytes(args.size, args.seed), None)
            print(info_hash_hex(info), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    if not args.tracker:
        ap.error("--tracker is required")
    if args.seed_only:
        return seed_only(args)
    if args.expect_tracker_error:
        return expect_tracker_error(args)

    result = {"ok": False, "bytes": 0, "sha1_match": False, "seconds": None, "scrape": None,
              "peers_seen": 0, "errors": [], "warnings": [], "info_hash": None, "reason": None,
              "tracker": args.tracker, "ipv6": args.ipv6}
    work = tempfile.mkdtemp(prefix="shoal-lt-")

    # Last resort if libtorrent hangs (e.g. in a destructor): report, clean up, leave.
    def watchdog():
        result["ok"] = False
        result["reason"] = f"watchdog: still running {args.timeout + 30:g} s after start"
        shutil.rmtree(work, ignore_errors=True)
        emit(result, 3)
        os._exit(3)

    timer = threading.Timer(args.timeout + 30, watchdog)
    timer.daemon = True
    timer.start()
    try:
        run(args, work, result)
    except Exception as e:  # report, never hang
        result["ok"] = False
        result["reason"] = f"{type(e).__name__}: {e}"
        result["errors"].append(result["reason"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    timer.cancel()
    if not result["ok"] and not result["reason"]:
        result["reason"] = "the transfer did not complete"
    return emit(result, 0 if result["ok"] else 1)


if __name__ == "__main__":
    sys.exit(main())
