/*
 * WebTorrent tracker load generator in C: the load of `ws_load.ts` (N connections, each a
 * peer of one of T torrents, announcing with offers in a closed loop, the next announce when the
 * reply came, and answering a share of the offers they receive) at a fraction of its CPU per
 * message, so that the bench measures the tracker and not the generator.
 *
 * One thread: epoll (level-triggered), non-blocking sockets, the RFC 6455 client handshake once
 * per connection. Each connection's announce frame is built and masked once (a fixed mask key per
 * connection); per announce only the 12 changing characters of each offer id are patched in,
 * masked. Answers are a prebuilt masked template with info_hash, to_peer_id and offer_id patched
 * in. Server frames are parsed by their header and the message kind found with memmem, in the
 * order ws_load.ts tests it.
 *
 * On loopback the kernel's TCP path is nearly all of the generator's cost, so it makes fewer,
 * fuller reads and sends: what a connection sends while its events are handled goes out in one
 * send() at the end of the event loop's round; the loop waits --batch-us (1000 µs) after each
 * round; and an answer waits for its connection's next announce to go in the same send, at most
 * --answer-delay-ms (20; a browser answers after gathering ICE candidates, later than that). The
 * closed loop of announces is not delayed beyond --batch-us (with 256 connections a connection's
 * round trip is tens of milliseconds). --batch-us 0 --answer-delay-ms 0 turns both off. Keep the
 * delay short: shoal forgets a peer's offers after 8 more of its announces ("no such offer to
 * answer"), and all connections announce at about the same pace.
 *
 * Ids are printable ASCII (as ws_load.ts makes them: base 36, 20 characters), so JSON carries
 * them as they are; an offer whose ids are escaped is not answered and is reported as a problem.
 * With --binary-ids, info hashes and peer ids are binary strings as WebTorrent sends them (it
 * hex-decodes them into 20 code points of 0–255): here 20 code points of 128–255, so that each
 * is two bytes of UTF-8 and none needs escaping. Offer ids stay ASCII.
 *
 * Usage: ws_load [--target 127.0.0.1:3000] [--seconds 10] ... (--help lists the options).
 * Prints a progress line per second on stderr (unless --no-progress) and one JSON line on
 * stdout: the fields of `WsLoadResult` (ws_load.ts), then generatorCpuMicros (this
 * process's user + system CPU per message in the measured window) and generatorThreads.
 */
#define LOAD_NAME "ws_load"
#include "load_common.h"

#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

static const char *target = "127.0.0.1:3000";
static double seconds = 10, warmup = 1, answer_share = 0.5, seeder_share = 0;
/* Microseconds to wait after each round of events, so more messages arrive per read. */
static int batch_us = 1000;
/* Milliseconds an answer may wait for its connection's next announce, to go in one send. */
static double answer_delay_ms = 20;
static int connections = 256, torrents = 16, offers = 5, sdp_size = 300, progress = 1;
/* Info hashes and peer ids of code points 128–255; their bytes in JSON (UTF-8). */
static int binary_ids = 0;
static size_t id_len = 20;

enum { CONNECTING, HANDSHAKE, OPEN, DEAD };
enum { K_REPLY, K_OFFER, K_ANSWER, K_FAILURE, KINDS };

/* The part of an offer id that changes per announce: its last 12 characters. */
#define SEQ_AT 8
#define SEQ_LEN 12

typedef struct {
  int fd, state, idx, out_armed, dirty, held;
  double held_at;
  uint8_t *rbuf, *wbuf;
  size_t rlen, rcap, woff, wlen, wcap;
  uint8_t mask[4];
  /* The announce frame, header size, and payload offsets of the offer ids. */
  uint8_t *ann;
  size_t ann_len, ann_head, *oid_at;
  /* The answer frame and the payload offsets of what is patched in. */
  uint8_t *ans;
  size_t ans_len, ans_head, ans_hash_at, ans_to_at, ans_oid_at;
  uint64_t seq;
} conn;

static int ep;
static conn *conns;
static int *dirty_list, ndirty, *held_list, nheld;
/* When the current round of events began. */
static double round_t;
static uint64_t counts[KINDS];
static int running, load_started, closed_count, open_count;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static char host[160];

/*
 * `n.toString(36).padStart(20, "0").slice(-20)`, as ws_load.ts's bin20; with --binary-ids, n
 * in base 128 as 20 code points 128 + digit, in UTF-8 (40 bytes). Writes id_len bytes and a NUL.
 */
static void bin20(uint64_t n, char *out) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (int i = 19; i >= 0; i--) {
    if (binary_ids) {
      unsigned cp = 128 + (unsigned)(n % 128);
      out[2 * i] = (char)(0xc0 | (cp >> 6));
      out[2 * i + 1] = (char)(0x80 | (cp & 0x3f));
      n /= 128;
    } else {
      out[i] = n > 0 ? digits[n % 36] : '0';
      n /= 36;
    }
  }
  out[id_len] = '\0';
}

/* Writes a masked client frame of `n` payload bytes; returns its size, the header's in *head. */
static size_t build_frame(uint8_t *out, uint8_t opcode, const uint8_t *payload, size_t n,
                          const uint8_t mask[4], size_t *head) {
  size_t h;
  out[0] = 0x80 | opcode;
  if (n < 126) {
    out[1] = 0x80 | (uint8_t)n;
    h = 2;
  } else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    h = 4;
  } else {
    out[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    h = 10;
  }
  memcpy(out + h, mask, 4);
  h += 4;
  for (size_t j = 0; j < n; j++) out[h + j] = payload[j] ^ mask[j & 3];
  if (head) *head = h;
  return h + n;
}

/* Writes `len` plain bytes at payload offset `j` of the masked frame `f` (header size `h`). */
static inline void patch(uint8_t *f, size_t h, size_t j, const void *src, size_t len,
                         const uint8_t mask[4]) {
  const uint8_t *s = src;
  for (size_t k = 0; k < len; k++) f[h + j + k] = s[k] ^ mask[(j + k) & 3];
}

static void arm(conn *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u32 = (uint32_t)c->idx};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->out_armed = out;
}

static void conn_dead(conn *c, const char *why) {
  if (c->state == DEAD) return;
  if (!load_started) die("connection %d to %s: %s", c->idx, target, why);
  if (running) {
    closed_count++;
    problemf("connection closed: %s", why);
  }
  close(c->fd);
  c->state = DEAD;
}

/* Appends a frame to c's output: sent at the end of this round, or for an answer (`urgent` 0)
 * with c's next announce or after --answer-delay-ms, whichever comes first. */
static void queue(conn *c, const uint8_t *data, size_t len, int urgent) {
  grow(&c->wbuf, &c->wcap, c->wlen + len);
  memcpy(c->wbuf + c->wlen, data, len);
  c->wlen += len;
  if (urgent && !c->dirty) {
    c->dirty = 1;
    dirty_list[ndirty++] = c->idx;
  } else if (!urgent && !c->dirty && !c->held) {
    c->held = 1;
    c->held_at = round_t;
    held_list[nheld++] = c->idx;
  }
}

static void flush(conn *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c->woff += (size_t)n;
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!c->out_armed) arm(c, 1);
      return;
    } else {
      conn_dead(c, n == 0 ? "send returned 0" : strerror(errno));
      return;
    }
  }
  c->woff = c->wlen = 0;
  if (c->out_armed) arm(c, 0);
}

static inline void put_hex(uint8_t *out, uint64_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) {
    out[i] = (uint8_t)hex[v & 15];
    v >>= 4;
  }
}

static void announce(conn *c) {
  if (!running || c->state != OPEN) return;
  uint8_t seq[SEQ_LEN];
  c->seq++;
  put_hex(seq, c->seq, SEQ_LEN);
  for (int k = 0; k < offers; k++) {
    patch(c->ann, c->ann_head, c->oid_at[k] + SEQ_AT, seq, SEQ_LEN, c->mask);
  }
  queue(c, c->ann, c->ann_len, 1);
}

/* Finds `"key":"` and a string of `len` bytes without escapes after it. */
static const uint8_t *find_id(const uint8_t *t, size_t n, const char *key, size_t len) {
  size_t klen = strlen(key);
  const uint8_t *p = memmem(t, n, key, klen);
  if (p == NULL) return NULL;
  p += klen;
  if ((size_t)(t + n - p) < len + 1 || p[len] != '"' || memchr(p, '\\', len) != NULL) return NULL;
  return p;
}

static void answer(conn *c, const uint8_t *t, size_t n) {
  const uint8_t *hash = find_id(t, n, "\"info_hash\":\"", id_len);
  const uint8_t *peer = find_id(t, n, "\"peer_id\":\"", id_len);
  const uint8_t *oid = find_id(t, n, "\"offer_id\":\"", 20);
  if (hash == NULL || peer == NULL || oid == NULL) {
    problem((const char *)t, n);
    return;
  }
  size_t at = c->wlen;
  queue(c, c->ans, c->ans_len, 0);
  uint8_t *f = c->wbuf + at;
  patch(f, c->ans_head, c->ans_hash_at, hash, id_len, c->mask);
  patch(f, c->ans_head, c->ans_to_at, peer, id_len, c->mask);
  patch(f, c->ans_head, c->ans_oid_at, oid, 20, c->mask);
}

static void on_text(conn *c, const uint8_t *t, size_t n) {
  if (memmem(t, n, "\"offer\":", 8)) {
    counts[K_OFFER]++;
    if (running && rng_unit() < answer_share) answer(c, t, n);
  } else if (memmem(t, n, "\"answer\":", 9)) {
    counts[K_ANSWER]++;
  } else if (memmem(t, n, "\"failure reason\"", 16)) {
    counts[K_FAILURE]++;
    problem((const char *)t, n);
    if (memmem(t, n, "\"announce\"", 10)) announce(c);
  } else if (memmem(t, n, "\"interval\":", 11)) {
    counts[K_REPLY]++;
    announce(c); /* closed loop: the next announce once the reply came */
  }
}

/* Handles the complete frames in the read buffer; keeps a partial one. */
static void parse_frames(conn *c) {
  uint8_t *b = c->rbuf;
  size_t p = 0, len = c->rlen;
  while (len - p >= 2) {
    uint64_t size = b[p + 1] & 0x7f;
    size_t at = p + 2;
    if (b[p + 1] & 0x80) {
      conn_dead(c, "the server sent a masked frame");
      return;
    }
    if (size == 126) {
      if (len - p < 4) break;
      size = ((uint64_t)b[p + 2] << 8) | b[p + 3];
      at = p + 4;
    } else if (size == 127) {
      if (len - p < 10) break;
      size = 0;
      for (int i = 0; i < 8; i++) size = (size << 8) | b[p + 2 + i];
      at = p + 10;
    }
    if (size > (1u << 30)) {
      conn_dead(c, "frame larger than 1 GiB");
      return;
    }
    if (at + size > len) {
      grow(&c->rbuf, &c->rcap, at - p + size);
      break;
    }
    int opcode = b[p] & 0x0f, fin = b[p] & 0x80;
    if (opcode == 0x1 && fin) {
      on_text(c, b + at, size);
    } else if (opcode == 0x8) {
      conn_dead(c, "close frame from the server");
      return;
    } else if (opcode == 0x9) {
      uint8_t pong[14 + 125];
      if (size <= 125) queue(c, pong, build_frame(pong, 0xA, b + at, size, c->mask, NULL), 1);
    } else if (opcode != 0xA) {
      problemf("unexpected frame: opcode %d, fin %d", opcode, fin ? 1 : 0);
    }
    p = at + size;
  }
  if (p > 0) {
    memmove(c->rbuf, c->rbuf + p, c->rlen - p);
    c->rlen -= p;
  }
}

static void on_readable(conn *c) {
  grow(&c->rbuf, &c->rcap, c->rlen + 16384);
  ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, MSG_DONTWAIT);
  if (n == 0) {
    conn_dead(c, "closed by the server");
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) conn_dead(c, strerror(errno));
    return;
  }
  c->rlen += (size_t)n;
  if (c->state == HANDSHAKE) {
    uint8_t *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
    if (end == NULL) {
      if (c->rlen > 65536) die("connection %d: no end to the upgrade response", c->idx);
      return;
    }
    if (c->rlen < 12 || memcmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
      uint8_t *eol = memmem(c->rbuf, c->rlen, "\r\n", 2);
      die("upgrade refused: %.*s", (int)(eol - c->rbuf), c->rbuf);
    }
    size_t head = (size_t)(end - c->rbuf) + 4;
    memmove(c->rbuf, c->rbuf + head, c->rlen - head);
    c->rlen -= head;
    c->state = OPEN;
    open_count++;
  }
  parse_frames(c);
}

static void on_event(const struct epoll_event *ev) {
  conn *c = &conns[ev->data.u32];
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) die("connect to %s: %s", target, strerror(err));
    if (!(ev->events & EPOLLOUT)) return;
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     host);
    if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) die("sending the upgrade request failed");
    c->state = HANDSHAKE;
    arm(c, 0);
    return;
  }
  if (c->state == DEAD) return;
  if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
  if (c->state == OPEN && (ev->events & EPOLLOUT) && c->out_armed) flush(c);
}

static void flush_dirty(void) {
  for (int i = 0; i < ndirty; i++) {
    conn *c = &conns[dirty_list[i]];
    c->dirty = 0;
    if (c->state != DEAD) flush(c);
  }
  ndirty = 0;
  /* Held answers: gone with an announce, due, or still waiting. */
  int keep = 0;
  for (int i = 0; i < nheld; i++) {
    conn *c = &conns[held_list[i]];
    if (c->state == DEAD || c->woff == c->wlen) {
      c->held = 0;
    } else if (round_t >= c->held_at + answer_delay_ms / 1000.0) {
      c->held = 0;
      flush(c);
    } else {
      held_list[keep++] = c->idx;
    }
  }
  nheld = keep;
}

static void open_conn(conn *c) {
  c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, addr_len) != 0 && errno != EINPROGRESS) {
    die("connect to %s: %s", target, strerror(errno));
  }
  c->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)c->idx};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl: %s", strerror(errno));
  c->out_armed = 1;
}

/* Builds connection i's announce and answer frames. */
static void build_conn(conn *c, int i, const char *sdp) {
  char peer[41] = {0}, hash[41] = {0};
  bin20(1000000000000ull + (uint64_t)i, peer);
  bin20(2000000000000ull + (uint64_t)(i % torrents), hash);
  for (int k = 0; k < 4; k++) c->mask[k] = (uint8_t)rng_next();
  size_t cap = 256 + (size_t)(offers + 1) * (size_t)(sdp_size + 96);
  char *json = malloc(cap);
  c->oid_at = calloc((size_t)offers, sizeof *c->oid_at);
  int left = i < connections * seeder_share ? 0 : 1;
  size_t n = (size_t)snprintf(json, cap,
                              "{\"action\":\"announce\",\"info_hash\":\"%s\",\"peer_id\":\"%s\","
                              "\"left\":%d,\"numwant\":%d,\"offers\":[",
                              hash, peer, left, offers);
  for (int k = 0; k < offers; k++) {
    n += (size_t)snprintf(json + n, cap - n, "%s{\"offer_id\":\"", k ? "," : "");
    c->oid_at[k] = n;
    put_hex((uint8_t *)json + n, (uint64_t)i, 6);
    put_hex((uint8_t *)json + n + 6, (uint64_t)k, 2);
    put_hex((uint8_t *)json + n + SEQ_AT, 0, SEQ_LEN);
    n += 20;
    n += (size_t)snprintf(json + n, cap - n,
                          "\",\"offer\":{\"type\":\"offer\",\"sdp\":\"%s\"}}", sdp);
  }
  n += (size_t)snprintf(json + n, cap - n, "]}");
  c->ann = malloc(n + 14);
  c->ann_len = build_frame(c->ann, 0x1, (uint8_t *)json, n, c->mask, &c->ann_head);

  const char *x20 = "xxxxxxxxxxxxxxxxxxxx";
  const char *xid = binary_ids ? "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" : x20;
  int a = snprintf(json, cap, "{\"action\":\"announce\",\"info_hash\":\"");
  c->ans_hash_at = (size_t)a;
  a += snprintf(json + a, cap - (size_t)a, "%s\",\"peer_id\":\"%s\",\"to_peer_id\":\"", xid, peer);
  c->ans_to_at = (size_t)a;
  a += snprintf(json + a, cap - (size_t)a, "%s\",\"offer_id\":\"", xid);
  c->ans_oid_at = (size_t)a;
  a += snprintf(json + a, cap - (size_t)a,
                "%s\",\"answer\":{\"type\":\"answer\",\"sdp\":\"%s\"}}", x20, sdp);
  c->ans = malloc((size_t)a + 14);
  c->ans_len = build_frame(c->ans, 0x1, (uint8_t *)json, (size_t)a, c->mask, &c->ans_head);
  free(json);
}

static uint64_t sum(const uint64_t *k) {
  return k[K_REPLY] + k[K_OFFER] + k[K_ANSWER] + k[K_FAILURE];
}

int main(int argc, char **argv) {
  PARSE_OPTIONS(argc, argv, {"offers", OPT_INT, &offers},
                {"answer-share", OPT_DOUBLE, &answer_share}, {"sdp-size", OPT_INT, &sdp_size},
                {"batch-us", OPT_INT, &batch_us}, {"answer-delay-ms", OPT_DOUBLE, &answer_delay_ms},
                {"binary-ids", OPT_BOOL, &binary_ids});
  id_len = binary_ids ? 40 : 20;
  if (connections < 1 || torrents < 1 || offers < 0 || sdp_size < 4 || seconds <= 0 || warmup < 0) {
    die("--connections, --torrents must be at least 1, --offers at least 0, --sdp-size at least 4");
  }
  addr_len = parse_target(target, &addr, host, sizeof host);
  signal(SIGPIPE, SIG_IGN);
  rng_seed();

  /* "v=0 ".padEnd(sdpSize, "x") */
  char *sdp = malloc((size_t)sdp_size + 1);
  memset(sdp, 'x', (size_t)sdp_size);
  memcpy(sdp, "v=0 ", 4);
  sdp[sdp_size] = '\0';

  conns = calloc((size_t)connections, sizeof *conns);
  dirty_list = calloc((size_t)connections, sizeof *dirty_list);
  held_list = calloc((size_t)connections, sizeof *held_list);
  for (int i = 0; i < connections; i++) {
    conns[i].idx = i;
    build_conn(&conns[i], i, sdp);
  }
  ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event evs[1024];

  /* Connect in groups of 64 every 10 ms (as ws_load.ts), so the accept queue is not flooded. */
  double t0 = now_s();
  int started = 0;
  while (open_count < connections) {
    double t = now_s();
    while (started < connections && t >= t0 + (started / 64) * 0.01) open_conn(&conns[started++]);
    if (t - t0 > 20) die("only %d of %d connections upgraded within 20 s", open_count, connections);
    int n = epoll_wait(ep, evs, 1024, 5);
    for (int i = 0; i < n; i++) on_event(&evs[i]);
  }

  load_started = running = 1;
  for (int i = 0; i < connections; i++) announce(&conns[i]);
  flush_dirty();
  struct window w;
  window_init(&w, counts, KINDS, warmup, seconds);
  long r[KINDS];
  for (;;) {
    double t = round_t = now_s();
    int step = window_step(&w, t, r);
    if (step == WINDOW_OVER) break;
    if (step == WINDOW_RATES && progress) {
      fprintf(stderr,
              "ws load: %ld messages/s (replies %ld, offers %ld, answers %ld, failures %ld), "
              "closed %d\n",
              r[0] + r[1] + r[2] + r[3], r[K_REPLY], r[K_OFFER], r[K_ANSWER], r[K_FAILURE],
              closed_count);
    }
    int timeout = window_timeout_ms(&w, t);
    if (nheld > 0 && timeout > answer_delay_ms) timeout = (int)answer_delay_ms + 1;
    int n = epoll_wait(ep, evs, 1024, timeout);
    round_t = now_s();
    for (int i = 0; i < n; i++) on_event(&evs[i]);
    flush_dirty();
    if (batch_us > 0) {
      struct timespec ts = {batch_us / 1000000, (batch_us % 1000000) * 1000L};
      nanosleep(&ts, NULL);
    }
  }
  uint64_t c[KINDS];
  double cpu, elapsed = window_end(&w, c, &cpu);
  running = 0;
  for (int i = 0; i < connections; i++) {
    if (conns[i].state != DEAD) close(conns[i].fd);
  }
  uint64_t messages = sum(c);
  json_counts("messages", messages, sum(counts), elapsed);
  printf("\"byKind\":{\"replies\":%llu,\"offers\":%llu,\"answers\":%llu,\"failures\":%llu},"
         "\"closed\":%d,\"problems\":",
         (unsigned long long)c[K_REPLY], (unsigned long long)c[K_OFFER],
         (unsigned long long)c[K_ANSWER], (unsigned long long)c[K_FAILURE], closed_count);
  json_problems(stdout);
  json_cpu_end(cpu, messages);
  return 0;
}
