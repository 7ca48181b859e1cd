/*
 * catchupc: the catch-up passes of catchup.mjs, from a client that costs little, so that the
 * server rather than the client sets the pace.
 *
 * The Node client (catchup.mjs) takes most of a core for 2 GB/s: against a server that does no
 * work at all (static-server.mjs), it ran at about 2.15 GB/s on the 2026-12-05 Intel host, the
 * ceiling of any server measured with it. This client reads the same stream the same way, one
 * request at a time on one keep-alive connection:
 *   GET <path>?offset=-1, then each Stream-Next-Offset, until Stream-Up-To-Date: true.
 * It reads each body into one reused 64 KiB buffer (Content-Length or chunked), so it does not
 * build a Buffer per piece or concatenate them. 64 KiB is what Node's libuv asks a socket for
 * per read: with a 1 MiB or 4 MiB buffer instead, the same server build ran 10-20% slower here
 * (the client's larger copies competing with the server's on two vCPUs), and slower the larger
 * the server's writes.
 *
 * The stream must already hold --messages messages of the 256-byte payload 0,1,...,255
 * (catchup.mjs populates it and prints its path). The first pass keeps the body and checks
 * every byte; every later pass checks its byte count. Then untimed warm-up passes for
 * --warmup seconds, then timed passes for --duration seconds (at least 3).
 * Prints one JSON line in catchup.mjs's shape (iterations, requests_per_catchup,
 * messages_per_s, mb_per_s, bytes, seconds, catchup_ms {p50, max}); run.sh adds the server's
 * and this client's CPU time around the timed run. On any error: {"error": "..."}, exit 1.
 *
 * Build: ../build-c.sh catchupc/catchupc (gcc -O2 -Wall -Wextra). Linux, C11, libc only.
 * Usage: catchupc --url http://127.0.0.1:PORT --path /v1/stream/NAME [--messages 10000]
 *                 [--duration 10] [--warmup 0]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (64u << 10)  /* one read buffer, reused for every body (libuv's read size) */
#define HEAD_MAX 16384        /* a response's status line and headers */
#define OFFSET_MAX 256        /* Stream-Next-Offset */
#define IO_TIMEOUT_S 30       /* per read or write: no pass can hang */
#define MAX_PASSES 100000
#define MESSAGE_BYTES 256

static char buf[BUF_SIZE];
static size_t pos, len;       /* unread bytes are buf[pos..len) */
static int fd = -1;
static char host[256], port[16], path[2048];

static void fail(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  for (char *c = msg; *c; c++) if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = ' ';
  printf("{\"error\":\"%s\"}\n", msg);
  exit(1);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void connect_server(void) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) fail("resolve %s:%s: %s", host, port, gai_strerror(rc));
  fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) != 0) fail("connect %s:%s: %s", host, port, strerror(errno));
  freeaddrinfo(res);
  int one = 1;
  struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  pos = len = 0;
}

/* Reads more bytes into buf after len (compacting first when the buffer is full). */
static void fill(void) {
  if (len == BUF_SIZE) {
    memmove(buf, buf + pos, len - pos);
    len -= pos;
    pos = 0;
    if (len == BUF_SIZE) fail("a line longer than %u bytes", BUF_SIZE);
  }
  ssize_t n = read(fd, buf + len, BUF_SIZE - len);
  if (n == 0) fail("the server closed the connection mid-response");
  if (n < 0) fail("read: %s", errno == EAGAIN ? "timed out" : strerror(errno));
  len += (size_t)n;
}

/* The next CRLF-terminated line (without it), NUL-terminated in place. */
static char *line(void) {
  for (;;) {
    char *start = buf + pos, *lf = memchr(start, '\n', len - pos);
    if (lf) {
      size_t n = (size_t)(lf - start);
      if (n > HEAD_MAX) fail("a header line longer than %d bytes", HEAD_MAX);
      if (n > 0 && start[n - 1] == '\r') n--;
      start[n] = 0;
      pos = (size_t)(lf - buf) + 1;
      return start;
    }
    if (len - pos > HEAD_MAX) fail("a header line longer than %d bytes", HEAD_MAX);
    if (pos > 0 && len == BUF_SIZE) {
      memmove(buf, buf + pos, len - pos);
      len -= pos;
      pos = 0;
    }
    fill();
  }
}

/* Consumes n body bytes; with keep, appends them to *kept (which must have room). */
static void body(size_t n, unsigned char *kept, size_t *kept_len, size_t kept_cap) {
  while (n > 0) {
    if (pos == len) {
      pos = len = 0;
      fill();
    }
    size_t take = len - pos < n ? len - pos : n;
    if (kept) {
      if (*kept_len + take > kept_cap) fail("the stream holds more bytes than --messages x 256");
      memcpy(kept + *kept_len, buf + pos, take);
      *kept_len += take;
    }
    pos += take;
    n -= take;
  }
}

static void send_all(const char *req, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, req, n);
    if (w < 0) fail("write: %s", errno == EAGAIN ? "timed out" : strerror(errno));
    req += w;
    n -= (size_t)w;
  }
}

static void url_encode(const char *in, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (; *in; in++) {
    unsigned char c = (unsigned char)*in;
    int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-_.~", c);
    if (o + 4 >= cap) fail("offset too long to encode");
    if (plain) out[o++] = (char)c;
    else out[o++] = '%', out[o++] = hex[c >> 4], out[o++] = hex[c & 15];
  }
  out[o] = 0;
}

/* One response: its body (kept or counted) and its stream headers. Returns the body's length. */
static size_t response(char *next_offset, int *up_to_date, unsigned char *kept, size_t *kept_len, size_t kept_cap) {
  char *status = line();
  int code = 0;
  if (sscanf(status, "HTTP/1.%*d %d", &code) != 1) fail("not an HTTP response: %.60s", status);
  long long content_length = -1;
  int chunked = 0, close_after = 0;
  next_offset[0] = 0;
  *up_to_date = 0;
  for (char *h; *(h = line());) {
    char *colon = strchr(h, ':');
    if (!colon) fail("bad header line: %.60s", h);
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    if (!strcasecmp(h, "content-length")) content_length = atoll(v);
    else if (!strcasecmp(h, "transfer-encoding")) chunked = strcasestr(v, "chunked") != NULL;
    else if (!strcasecmp(h, "connection")) close_after = strcasestr(v, "close") != NULL;
    else if (!strcasecmp(h, "stream-up-to-date")) *up_to_date = !strcasecmp(v, "true");
    else if (!strcasecmp(h, "stream-next-offset")) {
      if (strlen(v) >= OFFSET_MAX) fail("Stream-Next-Offset longer than %d bytes", OFFSET_MAX);
      strcpy(next_offset, v);
    }
  }
  if (code != 200) fail("GET -> %d", code);
  size_t total = 0;
  if (chunked) {
    for (;;) {
      unsigned long long size = strtoull(line(), NULL, 16);
      if (size == 0) {
        while (*line()) {}  /* trailers, then the blank line */
        break;
      }
      body(size, kept, kept_len, kept_cap);
      total += size;
      if (*line()) fail("chunk not followed by CRLF");
    }
  } else if (content_length >= 0) {
    body((size_t)content_length, kept, kept_len, kept_cap);
    total = (size_t)content_length;
  } else {
    fail("a response with neither Content-Length nor chunked encoding");
  }
  if (close_after) {
    close(fd);
    connect_server();
  }
  if (!next_offset[0]) fail("a response without Stream-Next-Offset");
  return total;
}

/* One full catch-up; returns its bytes, adds its requests to *requests. */
static size_t pass(long messages, unsigned char *kept, size_t *kept_len, size_t kept_cap, long *requests) {
  char offset[OFFSET_MAX] = "-1", next[OFFSET_MAX], enc[OFFSET_MAX * 3 + 1], req[4096];
  size_t bytes = 0;
  for (long n = 0;; n++) {
    if (n > messages + 10) fail("catch-up did not reach Stream-Up-To-Date");
    url_encode(offset, enc, sizeof enc);
    int rn = snprintf(req, sizeof req, "GET %s?offset=%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", path, enc, host, port);
    if (rn < 0 || (size_t)rn >= sizeof req) fail("request line too long");
    send_all(req, (size_t)rn);
    int up_to_date;
    size_t got = response(next, &up_to_date, kept, kept_len, kept_cap);
    bytes += got;
    (*requests)++;
    if (up_to_date) return bytes;
    if (got == 0 && !strcmp(next, offset)) fail("no progress at offset %s", offset);
    strcpy(offset, next);
  }
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *url = NULL;
  long messages = 10000;
  double duration_s = 10, warmup_s = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--url")) url = argv[i + 1];
    else if (!strcmp(argv[i], "--path")) snprintf(path, sizeof path, "%s", argv[i + 1]);
    else if (!strcmp(argv[i], "--messages")) messages = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--duration")) duration_s = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--warmup")) warmup_s = atof(argv[i + 1]);
    else fail("unknown flag %s", argv[i]);
  }
  if (argc % 2 == 0) fail("flags come in pairs: --name value");
  if (!url || !path[0]) fail("usage: catchupc --url http://HOST:PORT --path /v1/stream/NAME [--messages N] [--duration S] [--warmup S]");
  if (messages < 1 || duration_s <= 0 || warmup_s < 0) fail("--messages and --duration must be positive, --warmup not negative");
  if (sscanf(url, "http://%255[^:/]:%15[0-9]", host, port) != 2) fail("--url must be http://HOST:PORT, got %s", url);
  connect_server();

  size_t expected = (size_t)messages * MESSAGE_BYTES, kept_len = 0;
  unsigned char *kept = malloc(expected);
  if (!kept) fail("out of memory");
  long requests = 0;
  size_t got = pass(messages, kept, &kept_len, expected, &requests);
  if (got != expected) fail("verification pass read %zu bytes, expected %zu", got, expected);
  for (size_t i = 0; i < expected; i++)
    if (kept[i] != (unsigned char)(i % MESSAGE_BYTES)) fail("content mismatch in message %zu", i / MESSAGE_BYTES);
  free(kept);

  for (double w0 = now_ms(); now_ms() - w0 < warmup_s * 1000;)
    if ((got = pass(messages, NULL, NULL, 0, &requests)) != expected) fail("warm-up pass read %zu bytes, expected %zu", got, expected);

  static double times[MAX_PASSES];
  long iterations = 0;
  size_t total = 0;
  requests = 0;
  double t0 = now_ms();
  while (iterations < MAX_PASSES && (iterations < 3 || now_ms() - t0 < duration_s * 1000)) {
    double s = now_ms();
    if ((got = pass(messages, NULL, NULL, 0, &requests)) != expected) fail("pass %ld read %zu bytes, expected %zu", iterations + 1, got, expected);
    times[iterations++] = now_ms() - s;
    total += got;
  }
  double seconds = (now_ms() - t0) / 1000;
  qsort(times, (size_t)iterations, sizeof times[0], by_value);
  printf("{\"stream\":\"%s\",\"client\":\"catchupc\",\"messages\":%ld,\"message_bytes\":%d,\"iterations\":%ld,"
         "\"requests_per_catchup\":%.3f,\"messages_per_s\":%.1f,\"mb_per_s\":%.3f,\"bytes\":%zu,\"seconds\":%.6f,"
         "\"catchup_ms\":{\"p50\":%.4f,\"max\":%.4f}}\n",
         path, messages, MESSAGE_BYTES, iterations, (double)requests / iterations, messages * iterations / seconds,
         total / seconds / 1e6, total, seconds, times[(iterations + 1) / 2 - 1], times[iterations - 1]);
  return 0;
}
