#!/usr/bin/env python3
"""Two libtorrent sessions that find each other only through a UDP tracker move a file.

Usage: libtorrent_transfer.py --tracker udp://127.0.0.1:PORT/announce [--ipv6] [--timeout 60]

Prints one JSON line: ok, bytes, sha1_match, seconds, scrape {complete, incomplete, downloaded},
peers_seen, errors. Exit status 0 only when the leecher got the whole file, byte for byte.
"""
import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

import libtorrent as lt


def session(listen):
    s = lt.session({
        "listen_interfaces": listen,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": True,
        "enable_outgoing_utp": True,
        # Both peers share one loopback address.
        "allow_multiple_connections_per_ip": True,
        # Announce to the tracker on every interface, and never hold back local peers.
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": lt.alert.category_t.all_categories,
        "min_announce_interval": 1,
        "tracker_completion_timeout": 10,
        "tracker_receive_timeout": 5,
        "user_agent": "shoal-interop",
    })
    return s


def scrape_downloaded(handle):
    """The tracker's `downloaded` count from the last scrape (not in scrape_reply_alert)."""
    best = -1
    for tracker in handle.trackers():
        for ep in tracker.get("endpoints", []):
            for ih in ep.get("info_hashes", []):
                best = max(best, ih.get("scrape_downloaded", -1))
    return best


def make_torrent(root, name, size, tracker):
    path = os.path.join(root, name)
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs, piece_size=64 * 1024)
    t.add_tracker(tracker)
    lt.set_piece_hashes(t, root)
    return lt.torrent_info(lt.bencode(t.generate())), hashlib.sha1(data).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracker", required=True)
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--size", type=int, default=3 * 1024 * 1024)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="shoal-lt-")
    errors = []
    result = {"ok": False, "bytes": 0, "sha1_match": False, "seconds": 0.0, "scrape": None,
              "peers_seen": 0, "errors": errors}
    started = time.time()
    try:
        seed_dir = os.path.join(work, "seed")
        leech_dir = os.path.join(work, "leech")
        os.makedirs(seed_dir)
        os.makedirs(leech_dir)
        info, want_sha1 = make_torrent(seed_dir, "payload.bin", args.size, args.tracker)
        listen = "[::1]:0" if args.ipv6 else "127.0.0.1:0"
        sessions = [session(listen), session(listen)]
        seeder = sessions[0].add_torrent({"ti": info, "save_path": seed_dir,
                                          "flags": lt.torrent_flags.seed_mode})
        time.sleep(0.5)
        leecher = sessions[1].add_torrent({"ti": info, "save_path": leech_dir})
        deadline = started + args.timeout
        done = False
        scrape_asked = False
        while time.time() < deadline:
            for s in sessions:
                for a in s.pop_alerts():
                    if isinstance(a, lt.tracker_error_alert):
                        errors.append(a.message())
                    elif isinstance(a, lt.tracker_reply_alert) and s is sessions[1]:
                        result["peers_seen"] = max(result["peers_seen"], a.num_peers)
                    elif isinstance(a, lt.scrape_reply_alert) and s is sessions[1]:
                        result["scrape"] = {"complete": a.complete, "incomplete": a.incomplete,
                                            "downloaded": scrape_downloaded(leecher)}
                    elif isinstance(a, lt.scrape_failed_alert):
                        errors.append("scrape: " + a.message())
            st = leecher.status()
            if not done and st.is_seeding:
                done = True
                result["seconds"] = round(time.time() - started, 2)
                # Tell the tracker the leecher finished, then wait a moment before scraping.
                leecher.force_reannounce(0, -1)
                time.sleep(1)
            if done and not scrape_asked:
                leecher.scrape_tracker()
                scrape_asked = True
                scrape_at = time.time()
            if done and result["scrape"] is not None:
                break
            if scrape_asked and result["scrape"] is None and time.time() - scrape_at > 3:
                leecher.scrape_tracker()
                scrape_at = time.time()
            if not done and st.num_peers == 0 and int(time.time() - started) % 3 == 2:
                leecher.force_reannounce(0, -1)
            time.sleep(0.1)

        out = os.path.join(leech_dir, "payload.bin")
        if os.path.exists(out):
            with open(out, "rb") as f:
                got = f.read()
            result["bytes"] = len(got)
            result["sha1_match"] = hashlib.sha1(got).hexdigest() == want_sha1
        result["ok"] = done and result["sha1_match"]
        for s in sessions:
            s.pause()
    except Exception as e:  # report, never hang
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
