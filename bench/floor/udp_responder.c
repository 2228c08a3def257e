/*
 * The physical limit of this machine's UDP path for the bench: a stateless BEP 15 responder in
 * C with recvmmsg/sendmmsg. It answers connects (16 bytes), announces (a 20-byte header, no
 * peers) and scrapes (zeros), checks nothing and keeps no state. Compiled by `deno task bench`.
 *
 * Usage: udp_responder <ipv4-address> <port> [threads]
 * Prints "listening on udp://ADDR:PORT" once bound (port 0 picks one), runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 64
#define SLOT 8192

static struct sockaddr_in bind_addr;

static int open_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int one = 1, buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (bind(fd, (struct sockaddr *)&bind_addr, sizeof bind_addr) != 0) {
    perror("bind");
    exit(2);
  }
  return fd;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

static void *serve(void *arg) {
  int fd = (int)(intptr_t)arg;
  static __thread uint8_t in[BATCH][SLOT], out[BATCH][SLOT];
  static __thread struct sockaddr_in names[BATCH];
  struct mmsghdr rmsg[BATCH], smsg[BATCH];
  struct iovec riov[BATCH], siov[BATCH];
  for (int i = 0; i < BATCH; i++) {
    riov[i].iov_base = in[i];
    riov[i].iov_len = SLOT;
    memset(&rmsg[i], 0, sizeof rmsg[i]);
    rmsg[i].msg_hdr.msg_iov = &riov[i];
    rmsg[i].msg_hdr.msg_iovlen = 1;
    rmsg[i].msg_hdr.msg_name = &names[i];
  }
  for (;;) {
    for (int i = 0; i < BATCH; i++) rmsg[i].msg_hdr.msg_namelen = sizeof names[i];
    int n = recvmmsg(fd, rmsg, BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    int m = 0;
    for (int i = 0; i < n; i++) {
      uint8_t *q = in[i], *r = out[m];
      unsigned len = rmsg[i].msg_len, rlen = 0;
      if (len < 16) continue;
      uint32_t action = (q[8] << 24) | (q[9] << 16) | (q[10] << 8) | q[11];
      if (action == 0) {
        put32(r, 0);
        memcpy(r + 4, q + 12, 4);
        memset(r + 8, 0x5a, 8);
        rlen = 16;
      } else if (action == 1 && len >= 98) {
        put32(r, 1);
        memcpy(r + 4, q + 12, 4);
        put32(r + 8, 900);
        put32(r + 12, 0);
        put32(r + 16, 0);
        rlen = 20;
      } else if (action == 2) {
        unsigned hashes = (len - 16) / 20;
        put32(r, 2);
        memcpy(r + 4, q + 12, 4);
        memset(r + 8, 0, 12 * hashes);
        rlen = 8 + 12 * hashes;
      } else {
        continue;
      }
      siov[m].iov_base = r;
      siov[m].iov_len = rlen;
      memset(&smsg[m], 0, sizeof smsg[m]);
      smsg[m].msg_hdr.msg_iov = &siov[m];
      smsg[m].msg_hdr.msg_iovlen = 1;
      smsg[m].msg_hdr.msg_name = &names[i];
      smsg[m].msg_hdr.msg_namelen = rmsg[i].msg_hdr.msg_namelen;
      m++;
    }
    for (int sent = 0; sent < m;) {
      int k = sendmmsg(fd, smsg + sent, m - sent, 0);
      if (k <= 0) break;
      sent += k;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <ipv4-address> <port> [threads]\n", argv[0]);
    return 2;
  }
  int threads = argc > 3 ? atoi(argv[3]) : 1;
  memset(&bind_addr, 0, sizeof bind_addr);
  bind_addr.sin_family = AF_INET;
  bind_addr.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &bind_addr.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  int first = open_socket();
  socklen_t alen = sizeof bind_addr;
  getsockname(first, (struct sockaddr *)&bind_addr, &alen);
  printf("listening on udp://%s:%d\n", argv[1], ntohs(bind_addr.sin_port));
  fflush(stdout);
  for (int t = 1; t < threads; t++) {
    pthread_t th;
    pthread_create(&th, NULL, serve, (void *)(intptr_t)open_socket());
  }
  serve((void *)(intptr_t)first);
  return 0;
}
