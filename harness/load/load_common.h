/*
 * What the C load generators (`ws_load.c`, `http_load.c`) share: `--key value` options, the
 * target address, clocks, CPU time, the measured window and its rate lines, a cheap random
 * generator, and JSON output. Header-only, so that each generator still builds with one gcc
 * command. A generator defines LOAD_NAME (its name in error messages) before including it.
 */
#ifndef SHOAL_LOAD_COMMON_H
#define SHOAL_LOAD_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#ifndef LOAD_NAME
#error "define LOAD_NAME before including load_common.h"
#endif

/* Prints `LOAD_NAME: message` and exits 1. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(LOAD_NAME ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* One option: its flag without the dashes, and where its value goes. */
enum opt_kind { OPT_DOUBLE, OPT_INT, OPT_BOOL, OPT_STRING };
struct opt {
  const char *name;
  enum opt_kind kind;
  void *value;
};

/* The options every generator takes, first in its table: each generator defines these
 * variables, with its own defaults. */
#define COMMON_OPTIONS                                                                             \
  {"target", OPT_STRING, &target}, {"seconds", OPT_DOUBLE, &seconds},                              \
      {"warmup", OPT_DOUBLE, &warmup}, {"connections", OPT_INT, &connections},                     \
      {"torrents", OPT_INT, &torrents}, {"seeder-share", OPT_DOUBLE, &seeder_share},               \
      {"progress", OPT_BOOL, &progress}

/* Parses argv over COMMON_OPTIONS and then the generator's own options, the rest of the
 * arguments; exits on --help or a bad option. */
#define PARSE_OPTIONS(argc, argv, ...)                                                             \
  do {                                                                                             \
    const struct opt opts_[] = {COMMON_OPTIONS, __VA_ARGS__};                                      \
    parse_options(argc, argv, opts_, (int)(sizeof opts_ / sizeof opts_[0]));                       \
  } while (0)

static void print_usage(const char *prog, const struct opt *opts, int n) {
  printf("Usage: %s [options]\n", prog);
  for (int i = 0; i < n; i++) {
    const struct opt *o = &opts[i];
    switch (o->kind) {
    case OPT_DOUBLE: printf("  --%s %g\n", o->name, *(double *)o->value); break;
    case OPT_INT: printf("  --%s %d\n", o->name, *(int *)o->value); break;
    case OPT_BOOL: printf("  --%s (or --no-%s) %s\n", o->name, o->name,
                          *(int *)o->value ? "true" : "false"); break;
    case OPT_STRING: printf("  --%s %s\n", o->name, *(const char **)o->value); break;
    }
  }
}

/* Parses `--key value`, `--key=value`, `--flag` and `--no-flag`; exits 2 on a bad option. */
static void parse_options(int argc, char **argv, const struct opt *opts, int n) {
  for (int a = 1; a < argc; a++) {
    const char *arg = argv[a];
    if (strcmp(arg, "--") == 0) continue;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      print_usage(argv[0], opts, n);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0) {
      fprintf(stderr, "%s: unexpected argument %s\n", argv[0], arg);
      exit(2);
    }
    const char *key = arg + 2, *eq = strchr(key, '=');
    size_t klen = eq ? (size_t)(eq - key) : strlen(key);
    int negated = 0, found = 0;
    if (klen > 3 && strncmp(key, "no-", 3) == 0) {
      for (int i = 0; i < n; i++) {
        if (opts[i].kind == OPT_BOOL && strlen(opts[i].name) == klen - 3 &&
            strncmp(opts[i].name, key + 3, klen - 3) == 0) {
          negated = 1;
        }
      }
      if (negated) {
        key += 3;
        klen -= 3;
      }
    }
    for (int i = 0; i < n && !found; i++) {
      const struct opt *o = &opts[i];
      if (strlen(o->name) != klen || strncmp(o->name, key, klen) != 0) continue;
      found = 1;
      if (o->kind == OPT_BOOL) {
        int v = !negated;
        if (eq) v = strcmp(eq + 1, "false") != 0 && strcmp(eq + 1, "0") != 0;
        *(int *)o->value = v;
        continue;
      }
      const char *v = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
      if (v == NULL) {
        fprintf(stderr, "%s: --%s needs a value\n", argv[0], o->name);
        exit(2);
      }
      if (o->kind == OPT_STRING) {
        *(const char **)o->value = v;
        continue;
      }
      char *end;
      double d = strtod(v, &end);
      if (*v == '\0' || *end != '\0') {
        fprintf(stderr, "%s: --%s: not a number: %s\n", argv[0], o->name, v);
        exit(2);
      }
      if (o->kind == OPT_DOUBLE) *(double *)o->value = d;
      else *(int *)o->value = (int)d;
    }
    if (!found) {
      fprintf(stderr, "%s: unknown option %s (--help lists them)\n", argv[0], arg);
      exit(2);
    }
  }
}

/* Parses `1.2.3.4:port` or `[::1]:port`; exits 2 when it cannot. */
static socklen_t parse_target(const char *s, struct sockaddr_storage *out, char *host_header,
                              size_t host_size) {
  memset(out, 0, sizeof *out);
  const char *colon = strrchr(s, ':');
  if (colon == NULL) goto bad;
  char host[128];
  size_t hlen = (size_t)(colon - s);
  if (hlen == 0 || hlen >= sizeof host) goto bad;
  memcpy(host, s, hlen);
  host[hlen] = '\0';
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) goto bad;
  snprintf(host_header, host_size, "%s", s);
  if (host[0] == '[' && host[hlen - 1] == ']') {
    host[hlen - 1] = '\0';
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1) goto bad;
    return sizeof *a6;
  }
  struct sockaddr_in *a4 = (struct sockaddr_in *)out;
  a4->sin_family = AF_INET;
  a4->sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) goto bad;
  return sizeof *a4;
bad:
  fprintf(stderr, "--target: expected ADDRESS:PORT (IPv6 in brackets), got %s\n", s);
  exit(2);
}

/* Seconds on the monotonic clock. */
static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process has used, every thread included. */
static double cpu_s(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
         (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

/*
 * The measured window of a run: load for `warmup` seconds, then count for `seconds`, with the
 * rates of the last second at each second. `counts` are the generator's n counters; `at` holds
 * their values when counting began, `last` at the last rates.
 */
#define MAX_COUNTS 8
struct window {
  double seconds, warm_end, t_start, t_last, cpu0;
  int measuring, n;
  const uint64_t *counts;
  uint64_t at[MAX_COUNTS], last[MAX_COUNTS];
};
enum { WINDOW_LOADING, WINDOW_STARTED, WINDOW_RATES, WINDOW_OVER };

static void window_init(struct window *w, const uint64_t *counts, int n, double warmup,
                        double seconds) {
  memset(w, 0, sizeof *w);
  w->counts = counts;
  w->n = n;
  w->seconds = seconds;
  w->warm_end = now_s() + warmup;
}

/*
 * Moves the window on to time t: WINDOW_STARTED when counting begins, WINDOW_RATES when a second
 * has passed since the last rates (each counter's rate per second then in r), WINDOW_OVER once
 * `seconds` were counted, else WINDOW_LOADING.
 */
static int window_step(struct window *w, double t, long *r) {
  size_t size = sizeof w->counts[0] * (size_t)w->n;
  if (!w->measuring) {
    if (t < w->warm_end) return WINDOW_LOADING;
    w->measuring = 1;
    w->t_start = w->t_last = t;
    w->cpu0 = cpu_s();
    memcpy(w->at, w->counts, size);
    memcpy(w->last, w->counts, size);
    return WINDOW_STARTED;
  }
  if (t >= w->t_start + w->seconds) return WINDOW_OVER;
  if (t < w->t_last + 1) return WINDOW_LOADING;
  double dt = t - w->t_last;
  for (int k = 0; k < w->n; k++) r[k] = (long)((double)(w->counts[k] - w->last[k]) / dt + 0.5);
  memcpy(w->last, w->counts, size);
  w->t_last = t;
  return WINDOW_RATES;
}

/* Milliseconds to wait for events at time t: until the next step of the window, 100 at most. */
static int window_timeout_ms(const struct window *w, double t) {
  double next = w->measuring ? w->t_last + 1 : w->warm_end;
  if (w->measuring && w->t_start + w->seconds < next) next = w->t_start + w->seconds;
  int timeout = (int)((next - t) * 1000) + 1;
  return timeout > 100 ? 100 : timeout;
}

/* Ends the window: each counter's count in it goes to `counted`, its CPU seconds to *cpu;
 * returns its length in seconds. */
static double window_end(const struct window *w, uint64_t *counted, double *cpu) {
  double elapsed = now_s() - w->t_start;
  *cpu = cpu_s() - w->cpu0;
  for (int k = 0; k < w->n; k++) counted[k] = w->counts[k] - w->at[k];
  return elapsed;
}

/* Starts the JSON result line: seconds, `name` (the count), perSecond and total. */
static void json_counts(const char *name, uint64_t count, uint64_t total, double elapsed) {
  printf("{\"seconds\":%.6f,\"%s\":%llu,\"perSecond\":%lld,\"total\":%llu,", elapsed, name,
         (unsigned long long)count, (long long)((double)count / elapsed + 0.5),
         (unsigned long long)total);
}

/* Ends the JSON result line: the generator's CPU µs per counted message, one thread. */
static void json_cpu_end(double cpu, uint64_t count) {
  printf(",\"generatorCpuMicros\":%.3f,\"generatorThreads\":1}\n",
         count ? cpu * 1e6 / (double)count : 0.0);
}

/* xorshift64*: cheap, good enough to pick torrents and shares. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static inline uint64_t rng_next(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}
/* Uniform in [0, 1). */
static inline double rng_unit(void) { return (double)(rng_next() >> 11) * 0x1.0p-53; }
static void rng_seed(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  rng_state ^= (uint64_t)t.tv_nsec * 0x100000001b3ull ^ (uint64_t)t.tv_sec;
  if (rng_state == 0) rng_state = 1;
}

/* Writes `len` bytes of `s` as a JSON string (bytes >= 0x80 read as Latin-1). */
static void json_string(FILE *f, const char *s, size_t len) {
  fputc('"', f);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c >= 0x20 && c < 0x7f) fputc(c, f);
    else fprintf(f, "\\u%04x", c);
  }
  fputc('"', f);
}

/* A few distinct problems for the report. */
#define MAX_PROBLEMS 5
#define PROBLEM_LEN 200
static char problems[MAX_PROBLEMS][PROBLEM_LEN + 1];
static int problem_count = 0;

static void problem(const char *s, size_t len) {
  if (problem_count >= MAX_PROBLEMS) return;
  if (len > PROBLEM_LEN) len = PROBLEM_LEN;
  for (int i = 0; i < problem_count; i++) {
    if (strlen(problems[i]) == len && memcmp(problems[i], s, len) == 0) return;
  }
  memcpy(problems[problem_count], s, len);
  problems[problem_count][len] = '\0';
  problem_count++;
}

static void problemf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problemf(const char *fmt, ...) {
  char buf[PROBLEM_LEN + 1];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  problem(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void json_problems(FILE *f) {
  fputc('[', f);
  for (int i = 0; i < problem_count; i++) {
    if (i) fputc(',', f);
    json_string(f, problems[i], strlen(problems[i]));
  }
  fputc(']', f);
}

/* Grows `*buf` (capacity `*cap`) to hold at least `need` bytes. */
static void grow(uint8_t **buf, size_t *cap, size_t need) {
  if (need <= *cap) return;
  size_t c = *cap ? *cap : 4096;
  while (c < need) c *= 2;
  uint8_t *b = realloc(*buf, c);
  if (b == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  *buf = b;
  *cap = c;
}

#endif
