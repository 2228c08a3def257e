/*
 * HTTP tracker load generator in C (BEP 3, 23, 48): announces and ~10% scrapes of 1–10 hashes,
 * with the population of udp_load.ts (1M peers over 100k torrents of skewed popularity,
 * each peer in one torrent, 75% seeders, info hashes from benchInfoHash, so that opentracker's
 * allow list written by harness/trackers.ts matches), percent-encoded binary info_hash and peer_id,
 * numwant 50, compact=1. A peer's first announce in the run carries event=started; later ones
 * carry no event, as a client's regular re-announces do.
 *
 * Two modes:
 * - `--mode keepalive`: C connections (default 64), each with `--pipeline K` requests in flight
 *   (default 1) over HTTP/1.1 keep-alive; the next request goes when a response came. A server
 *   that closes a connection (HTTP/1.0, `Connection: close`, or just closing, as opentracker
 *   does) gets a new one; requests it left unanswered are counted in closedEarly, not retried.
 * - `--mode close`: a new TCP connection per request (`Connection: close`), C at a time.
 * - `--mode libtorrent`: as `close`, with announces as libtorrent 2.0 (qBittorrent, Deluge)
 *   sends them: `corrupt`, `key`, `numwant=200`, `no_peer_id=1`, `supportcrypto=1`,
 *   `redundant=0`, `User-Agent` and `Accept-Encoding` headers, and no scrapes.
 *
 * With `--keys FILE` (one passkey a line) it loads a private tracker: each peer of the population
 * is given one of the keys at random and announces to `/KEY/announce`; each scrape goes to
 * `/KEY/scrape` with a key drawn at random. The keys are read once, before the load.
 *
 * Every response is parsed: status line, Content-Length (or chunked, or read to the close), and
 * the body must be a bencoded dictionary with `8:interval` (announce) or `5:files` (scrape), or
 * a `failure reason` (counted apart). One thread, epoll (edge-triggered), non-blocking sockets.
 *
 * Usage: http_load [--target 127.0.0.1:3000] [--mode keepalive|close] ... (--help lists them).
 * Prints a progress line per second on stderr (unless --no-progress) and one JSON line on
 * stdout: {seconds, responses, perSecond, total, byType: {announce, scrape, failure}, errors,
 * closedEarly, problems, generatorCpuMicros, announcesPerSecond, reconnects, generatorThreads,
 * mode, connections, pipeline}. `perSecond` counts the well-formed responses (failures too) in
 * the measured window, `total` those of the whole run (warm-up included, for the tracker's CPU
 * per response), generatorCpuMicros this process's CPU per response in the window.
 */
#define LOAD_NAME "http_load"
#include "load_common.h"

#include <math.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char *target = "127.0.0.1:3000", *mode_name = "keepalive", *keys_path = "";
static double seconds = 10, warmup = 1, skew = 3, scrape_share = 0.1, seeder_share = 0.75;
static int connections = 64, torrents = 100000, peers = 1000000, numwant = 50, pipeline = 1;
static int scrape_max = 10, progress = 1, close_mode = 0, libtorrent = 0;

#define MAX_PIPELINE 256
enum { ANNOUNCE, SCRAPE, FAILURE, TYPES };

typedef struct {
  int fd, idx, connected, no_more;
  uint32_t gen;
  uint8_t *rbuf, *wbuf;
  size_t rlen, rcap, woff, wlen, wcap;
  /* Outstanding requests, oldest first: their kinds. */
  uint8_t kinds[MAX_PIPELINE];
  int head, inflight;
} conn;

static int ep, running;
static conn *conns;
static uint32_t *torrent_of;
static uint8_t *started;
static uint64_t counts[TYPES], errors, closed_early, reconnects;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static char host[160];
static char hash_tail[16 * 3 + 1];
/* A private tracker's load (--keys): the keys' text, each one's start and length, each peer's. */
static uint8_t *key_text;
static size_t *key_start;
static uint8_t *key_len;
static uint32_t n_keys, *key_of;

/* Percent-encodes `n` bytes (RFC 3986 unreserved characters stay); returns the length. */
static size_t pct(char *out, const uint8_t *b, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = b[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  return o;
}

/* benchInfoHash(t) of udp_load.ts, percent-encoded: t big-endian, then a fixed tail. */
static size_t put_hash(char *out, uint32_t t) {
  uint8_t b[4] = {(uint8_t)(t >> 24), (uint8_t)(t >> 16), (uint8_t)(t >> 8), (uint8_t)t};
  size_t n = pct(out, b, 4);
  size_t tl = strlen(hash_tail);
  memcpy(out + n, hash_tail, tl);
  return n + tl;
}

static size_t put_str(char *out, const char *s) {
  size_t n = strlen(s);
  memcpy(out, s, n);
  return n;
}

static size_t put_uint(char *out, uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return (size_t)n;
}

/* Reads --keys: one key a line, blank lines skipped; each up to 64 bytes. */
static void read_keys(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) die("--keys %s: %s", path, strerror(errno));
  size_t cap = 0, len = 0, got;
  char buf[65536];
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
    grow(&key_text, &cap, len + got + 1);
    memcpy(key_text + len, buf, got);
    len += got;
  }
  fclose(f);
  if (len == 0) die("--keys %s: no keys", path);
  key_text[len] = '\n';
  size_t lines = 1;
  for (size_t i = 0; i < len; i++) lines += key_text[i] == '\n';
  key_start = malloc(sizeof *key_start * lines);
  key_len = malloc(lines);
  for (size_t i = 0, s = 0; i <= len; i++) {
    if (key_text[i] != '\n') continue;
    size_t e = i;
    while (e > s && (key_text[e - 1] == '\r' || key_text[e - 1] == ' ')) e--;
    if (e > s) {
      if (e - s > 64) die("--keys %s: key %u is longer than 64 bytes", path, n_keys + 1);
      key_start[n_keys] = s;
      key_len[n_keys++] = (uint8_t)(e - s);
    }
    s = i + 1;
  }
  if (n_keys == 0) die("--keys %s: no keys", path);
}

/* "/KEY" of key k. */
static size_t put_key(char *out, uint32_t k) {
  out[0] = '/';
  memcpy(out + 1, key_text + key_start[k], key_len[k]);
  return 1 + (size_t)key_len[k];
}

static inline uint32_t pick_torrent(void) {
  uint32_t t = (uint32_t)floor(torrents * pow(rng_unit(), skew));
  return t < (uint32_t)torrents ? t : (uint32_t)torrents - 1;
}

/* Appends one request to c's write buffer; returns its kind. */
static int build_request(conn *c) {
  grow(&c->wbuf, &c->wcap, c->wlen + 2048);
  char *o = (char *)c->wbuf + c->wlen, *s = o;
  int kind;
  if (rng_unit() < scrape_share) {
    int n = 1 + (int)(rng_unit() * (scrape_max > 1 ? scrape_max : 1));
    if (n > torrents) n = torrents;
    int first = (int)pick_torrent();
    if (first + n > torrents) first = torrents - n;
    o += put_str(o, "GET ");
    if (n_keys) o += put_key(o, (uint32_t)(rng_next() % n_keys));
    o += put_str(o, "/scrape?");
    for (int k = 0; k < n; k++) {
      o += put_str(o, k ? "&info_hash=" : "info_hash=");
      o += put_hash(o, (uint32_t)(first + k));
    }
    kind = SCRAPE;
  } else {
    uint32_t p = (uint32_t)(rng_next() % (uint64_t)peers);
    /* A stable share of the population seeds, as in udp_load.ts. */
    int seeder = (double)(uint32_t)((uint64_t)p * 2654435761u) / 4294967296.0 < seeder_share;
    uint8_t id[20] = "-SB0001-";
    memset(id + 8, 0, 8);
    id[16] = (uint8_t)(p >> 24);
    id[17] = (uint8_t)(p >> 16);
    id[18] = (uint8_t)(p >> 8);
    id[19] = (uint8_t)p;
    o += put_str(o, "GET ");
    if (n_keys) o += put_key(o, key_of[p]);
    o += put_str(o, "/announce?info_hash=");
    o += put_hash(o, torrent_of[p]);
    o += put_str(o, "&peer_id=");
    o += pct(o, id, 20);
    o += put_str(o, "&port=");
    o += put_uint(o, 1 + p % 65535);
    o += put_str(o, "&uploaded=0&downloaded=0&left=");
    o += put_str(o, seeder ? "0" : "1048576");
    if (libtorrent) {
      /* libtorrent's order: corrupt and key before event; its key is 8 hex digits per peer. */
      o += put_str(o, "&corrupt=0&key=");
      for (int k = 28; k >= 0; k -= 4) *o++ = "0123456789ABCDEF"[((p * 2654435761u) >> k) & 15];
    }
    if (!(started[p >> 3] & (1 << (p & 7)))) {
      started[p >> 3] |= (uint8_t)(1 << (p & 7));
      o += put_str(o, "&event=started");
    }
    o += put_str(o, "&numwant=");
    o += put_uint(o, (uint64_t)numwant);
    o += put_str(o, libtorrent ? "&compact=1&no_peer_id=1&supportcrypto=1&redundant=0" : "&compact=1");
    kind = ANNOUNCE;
  }
  o += put_str(o, " HTTP/1.1\r\nHost: ");
  o += put_str(o, host);
  if (libtorrent) o += put_str(o, "\r\nUser-Agent: libtorrent/2.0.8.0\r\nAccept-Encoding: gzip");
  o += put_str(o, close_mode ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
  c->wlen += (size_t)(o - s);
  c->kinds[(c->head + c->inflight) % MAX_PIPELINE] = (uint8_t)kind;
  c->inflight++;
  return kind;
}

static void open_conn(conn *c);

/* Closes c; opens a new connection in its place while the load runs. */
static void reopen(conn *c) {
  close(c->fd);
  c->fd = -1;
  c->rlen = c->woff = c->wlen = 0;
  c->head = c->inflight = 0;
  if (running) {
    reconnects++;
    open_conn(c);
  }
}

/* The connection ended (EOF or error) with `why`. */
static void ended(conn *c, const char *why) {
  if (!c->connected) {
    /* Never connected: the main loop tries again (no reopen here, which could recurse). */
    errors++;
    problemf("connect to %s: %s", target, why);
    close(c->fd);
    c->fd = -1;
    return;
  }
  if (c->inflight > 0) {
    closed_early += (uint64_t)c->inflight;
    problemf("connection ended (%s) with requests unanswered", why);
  }
  reopen(c);
}

static void flush(conn *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->woff += (size_t)n;
      c->connected = 1;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      return; /* edge-triggered EPOLLOUT says when to go on */
    } else {
      ended(c, n == 0 ? "send returned 0" : strerror(errno));
      return;
    }
  }
  c->woff = c->wlen = 0;
}

static void open_conn(conn *c) {
  c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  c->connected = c->no_more = 0;
  c->gen++;
  if (!close_mode) {
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                           .data.u64 = (uint64_t)c->gen << 32 | (uint32_t)c->idx};
  int r = connect(c->fd, (struct sockaddr *)&addr, addr_len);
  if (r != 0 && errno != EINPROGRESS) {
    errors++;
    problemf("connect to %s: %s", target, strerror(errno));
    close(c->fd);
    c->fd = -1;
    return; /* retried by the main loop */
  }
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  int n = close_mode ? 1 : pipeline;
  for (int k = 0; k < n; k++) build_request(c);
  /* On loopback the handshake is usually done when connect returns: try at once. */
  flush(c);
}

/* A problem: `prefix`, then up to 80 bytes of `b`. */
static void problem_bytes(const char *prefix, const uint8_t *b, size_t n) {
  char buf[PROBLEM_LEN];
  size_t l = strlen(prefix);
  memcpy(buf, prefix, l);
  if (n > 80) n = 80;
  memcpy(buf + l, b, n);
  problem(buf, l + n);
}

static int has(const uint8_t *b, size_t n, const char *s) {
  return memmem(b, n, s, strlen(s)) != NULL;
}

/* Case-insensitive: does header line [p, e) start with `name` (which ends with ':')? */
static const uint8_t *header_value(const uint8_t *p, const uint8_t *e, const char *name) {
  size_t n = strlen(name);
  if ((size_t)(e - p) < n || strncasecmp((const char *)p, name, n) != 0) return NULL;
  p += n;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  return p;
}

static uint8_t *scratch;
static size_t scratch_cap;

/* Decodes a complete chunked body at b[0, n) into scratch; returns its end in b, or 0 if more is
 * needed, or -1 if malformed. */
static long dechunk(const uint8_t *b, size_t n, size_t *out_len) {
  size_t p = 0, o = 0;
  for (;;) {
    const uint8_t *eol = memmem(b + p, n - p, "\r\n", 2);
    if (eol == NULL) return 0;
    char *end;
    unsigned long size = strtoul((const char *)b + p, &end, 16);
    if (end == (const char *)b + p) return -1;
    p = (size_t)(eol - b) + 2;
    if (size == 0) {
      /* Trailers end with an empty line. */
      const uint8_t *fin = memmem(b + p - 2, n - (p - 2), "\r\n\r\n", 4);
      if (fin == NULL) return 0;
      *out_len = o;
      return (long)((size_t)(fin - b) + 4);
    }
    if (n - p < size + 2) return 0;
    grow(&scratch, &scratch_cap, o + size);
    memcpy(scratch + o, b + p, size);
    o += size;
    p += size + 2;
  }
}

/* Takes the complete responses from c's read buffer; `eof`: the server has closed. Returns 0, or
 * 1 when c was closed (and maybe reopened). */
static int take_responses(conn *c, int eof) {
  size_t p = 0;
  int result = 0;
  while (p < c->rlen) {
    const uint8_t *b = c->rbuf + p;
    size_t n = c->rlen - p;
    if (c->inflight == 0) {
      errors++;
      problemf("%zu bytes with no request outstanding", n);
      reopen(c);
      return 1;
    }
    const uint8_t *he = memmem(b, n, "\r\n\r\n", 4);
    if (he == NULL) {
      if (n > 65536) {
        errors++;
        problem("response head longer than 64 KiB", 32);
        reopen(c);
        return 1;
      }
      break;
    }
    size_t head = (size_t)(he - b) + 4;
    int minor = n > 7 && memcmp(b, "HTTP/1.", 7) == 0 ? b[7] - '0' : -1;
    int status = minor >= 0 && n > 12 ? atoi((const char *)b + 9) : -1;
    long clen = -1;
    int chunked = 0, conn_close = minor == 0, keep = 0;
    for (const uint8_t *l = memmem(b, head, "\r\n", 2) + 2; l < he;) {
      const uint8_t *e = memmem(l, (size_t)(he + 2 - l), "\r\n", 2), *v;
      if ((v = header_value(l, e, "content-length:"))) clen = atol((const char *)v);
      else if ((v = header_value(l, e, "transfer-encoding:")))
        chunked = has(v, (size_t)(e - v), "chunked");
      else if ((v = header_value(l, e, "connection:"))) {
        if (strncasecmp((const char *)v, "close", 5) == 0) conn_close = 1;
        if (strncasecmp((const char *)v, "keep-alive", 10) == 0) keep = 1;
      }
      l = e + 2;
    }
    if (minor == 0 && keep) conn_close = 0;
    const uint8_t *body;
    size_t blen, used;
    if (chunked) {
      long end = dechunk(b + head, n - head, &blen);
      if (end < 0) {
        errors++;
        problem("malformed chunked body", 22);
        reopen(c);
        return 1;
      }
      if (end == 0) break;
      body = scratch;
      used = head + (size_t)end;
    } else if (clen >= 0) {
      if (n - head < (size_t)clen) break;
      body = b + head;
      blen = (size_t)clen;
      used = head + blen;
    } else {
      if (!eof) break; /* read to the close */
      body = b + head;
      blen = n - head;
      used = n;
      conn_close = 1;
    }
    int kind = c->kinds[c->head];
    c->head = (c->head + 1) % MAX_PIPELINE;
    c->inflight--;
    if (status != 200) {
      errors++;
      const uint8_t *eol = memmem(b, n, "\r\n", 2);
      problem((const char *)b, (size_t)(eol - b));
    } else if (blen < 2 || body[0] != 'd') {
      errors++;
      problem_bytes("not a bencoded dictionary: ", body, blen);
    } else if (has(body, blen, "14:failure reason")) {
      counts[FAILURE]++;
      problem((const char *)body, blen);
    } else if (has(body, blen, kind == ANNOUNCE ? "8:interval" : "5:files")) {
      counts[kind]++;
    } else {
      errors++;
      problem_bytes(kind == ANNOUNCE ? "announce reply without 8:interval: "
                                     : "scrape reply without 5:files: ",
                    body, blen);
    }
    p += used;
    if (conn_close) c->no_more = 1;
    else if (!close_mode && running && !c->no_more) build_request(c);
  }
  if (p > 0) {
    memmove(c->rbuf, c->rbuf + p, c->rlen - p);
    c->rlen -= p;
  }
  if (c->inflight == 0 && (close_mode || c->no_more || !running)) {
    if (c->rlen > 0) {
      errors++;
      problemf("%zu bytes with no request outstanding", c->rlen);
    }
    reopen(c);
    result = 1;
  }
  return result;
}

static void on_event(const struct epoll_event *ev) {
  conn *c = &conns[(uint32_t)ev->data.u64];
  if ((uint32_t)(ev->data.u64 >> 32) != c->gen || c->fd < 0) return; /* an old connection's */
  if (c->wlen > c->woff) {
    flush(c);
    if (c->fd < 0 || (uint32_t)(ev->data.u64 >> 32) != c->gen) return;
  }
  if (!(ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  /* The server has closed its side: take what it sent, ask nothing more, read to the end. */
  int hup = (ev->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (hup) c->no_more = 1;
  for (;;) {
    grow(&c->rbuf, &c->rcap, c->rlen + 16384);
    size_t room = c->rcap - c->rlen;
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, room, MSG_DONTWAIT);
    if (n > 0) {
      c->connected = 1;
      c->rlen += (size_t)n;
      if (take_responses(c, 0)) return;
      if ((size_t)n < room && !hup) break; /* drained: a new edge comes with new data */
    } else if (n == 0) {
      if (take_responses(c, 1)) return;
      ended(c, "closed by the server");
      return;
    } else if (errno == EAGAIN || errno == EINTR) {
      break;
    } else {
      const char *why = strerror(errno);
      if (take_responses(c, 1)) return;
      ended(c, why);
      return;
    }
  }
  if (c->wlen > c->woff) flush(c);
}

static uint64_t sum(const uint64_t *k) { return k[ANNOUNCE] + k[SCRAPE] + k[FAILURE]; }

int main(int argc, char **argv) {
  PARSE_OPTIONS(argc, argv, {"peers", OPT_INT, &peers}, {"numwant", OPT_INT, &numwant},
                {"mode", OPT_STRING, &mode_name}, {"pipeline", OPT_INT, &pipeline},
                {"skew", OPT_DOUBLE, &skew}, {"scrape-share", OPT_DOUBLE, &scrape_share},
                {"scrape-max", OPT_INT, &scrape_max}, {"keys", OPT_STRING, &keys_path});
  if (strcmp(mode_name, "close") == 0) close_mode = 1;
  else if (strcmp(mode_name, "libtorrent") == 0) {
    close_mode = libtorrent = 1;
    scrape_share = 0; /* libtorrent scrapes rarely; its announces are what it sends */
  } else if (strcmp(mode_name, "keepalive") != 0)
    die("--mode: keepalive, close or libtorrent, not %s", mode_name);
  if (connections < 1 || torrents < 1 || peers < 1 || seconds <= 0 || warmup < 0) {
    die("--connections, --torrents and --peers must be at least 1, --seconds above 0");
  }
  if (pipeline < 1 || pipeline > MAX_PIPELINE) die("--pipeline: 1 to %d", MAX_PIPELINE);
  if (close_mode) pipeline = 1;
  addr_len = parse_target(target, &addr, host, sizeof host);
  signal(SIGPIPE, SIG_IGN);
  rng_seed();

  uint8_t tail[16];
  for (int i = 4; i < 20; i++) tail[i - 4] = (uint8_t)((i * 37 + 11) & 0xff);
  hash_tail[pct(hash_tail, tail, 16)] = '\0';
  torrent_of = malloc(sizeof *torrent_of * (size_t)peers);
  started = calloc((size_t)peers / 8 + 1, 1);
  for (int p = 0; p < peers; p++) torrent_of[p] = pick_torrent();
  if (keys_path[0] != '\0') {
    read_keys(keys_path);
    key_of = malloc(sizeof *key_of * (size_t)peers);
    for (int p = 0; p < peers; p++) key_of[p] = (uint32_t)(rng_next() % n_keys);
  }

  conns = calloc((size_t)connections, sizeof *conns);
  ep = epoll_create1(EPOLL_CLOEXEC);
  running = 1;
  for (int i = 0; i < connections; i++) {
    conns[i].idx = i;
    open_conn(&conns[i]);
  }
  struct epoll_event evs[1024];
  struct window w;
  window_init(&w, counts, TYPES, warmup, seconds);
  uint64_t errors0 = 0, early0 = 0;
  long r[TYPES];
  for (;;) {
    double t = now_s();
    int step = window_step(&w, t, r);
    if (step == WINDOW_OVER) break;
    if (step == WINDOW_STARTED) {
      errors0 = errors;
      early0 = closed_early;
    }
    if (step == WINDOW_RATES && progress) {
      fprintf(stderr,
              "http load (%s): %ld responses/s (announce %ld, scrape %ld, failure %ld), "
              "errors %llu, closed early %llu\n",
              mode_name, r[0] + r[1] + r[2], r[ANNOUNCE], r[SCRAPE], r[FAILURE],
              (unsigned long long)(errors - errors0), (unsigned long long)(closed_early - early0));
    }
    /* Slots whose connect failed at once are retried here, at most every round. */
    for (int i = 0; i < connections; i++) {
      if (conns[i].fd < 0) open_conn(&conns[i]);
    }
    int n = epoll_wait(ep, evs, 1024, window_timeout_ms(&w, t));
    for (int i = 0; i < n; i++) on_event(&evs[i]);
  }
  uint64_t c[TYPES];
  double cpu, elapsed = window_end(&w, c, &cpu);
  running = 0;
  for (int i = 0; i < connections; i++) {
    if (conns[i].fd >= 0) close(conns[i].fd);
  }
  uint64_t responses = sum(c);
  json_counts("responses", responses, sum(counts), elapsed);
  printf("\"byType\":{\"announce\":%llu,\"scrape\":%llu,\"failure\":%llu},"
         "\"errors\":%llu,\"closedEarly\":%llu,\"problems\":",
         (unsigned long long)c[ANNOUNCE], (unsigned long long)c[SCRAPE],
         (unsigned long long)c[FAILURE], (unsigned long long)(errors - errors0),
         (unsigned long long)(closed_early - early0));
  json_problems(stdout);
  printf(",\"announcesPerSecond\":%lld,\"reconnects\":%llu,\"mode\":\"%s\",\"connections\":%d,"
         "\"pipeline\":%d",
         (long long)((double)c[ANNOUNCE] / elapsed + 0.5), (unsigned long long)reconnects,
         close_mode ? "close" : "keepalive", connections, pipeline);
  json_cpu_end(cpu, responses);
  return 0;
}
