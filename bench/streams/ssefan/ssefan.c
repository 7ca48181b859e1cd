/*
 * ssefan: low-overhead SSE fan-out load client for bench/streams, a drop-in for
 * `node sse-fanout.mjs` (same flags, same behaviour, same one-line JSON result).
 *
 * What it measures: one application/json stream, N SSE subscribers
 * (GET <path>?offset=now&live=sse, one TCP connection each) and one writer that
 * POSTs {"seq":n,"t":<ms>} at a fixed rate over one keep-alive connection, one
 * append in flight at a time. Delivery latency per (subscriber, event) is
 * receive time - t, both from CLOCK_MONOTONIC in this one process. Every
 * subscriber must see every seq exactly once and in order; lost, duplicate,
 * out-of-order and unparsable deliveries are counted.
 *
 * How: one thread, one epoll set (level-triggered), non-blocking sockets with
 * TCP_NODELAY, a timerfd for the writer's schedule and all other deadlines.
 * Each subscriber's socket is read with one read() per readiness report; the
 * receive timestamp is taken right before that read(), so it is one timestamp
 * per read, like the Node client's one per 'data' chunk. The bytes go through
 * an incremental HTTP/1.1 response parser (status line, headers, chunked or
 * Content-Length or until-close body) and an incremental SSE parser (LF, CR or
 * CRLF line ends, event:/data: fields, comments, blank line dispatches); both
 * keep partial lines across reads, so chunk and read boundaries may fall
 * anywhere. Data events are scanned for "seq" and "t" with a small tolerant
 * JSON scanner. All buffers and the latency arrays are allocated up front, so
 * the steady state allocates nothing per event.
 *
 * client_handler_ms_per_event is the time spent in the subscribers' read
 * handlers divided by the number of events, each handler timed from its receive
 * timestamp (taken before read()) to the end of parsing and bookkeeping: how
 * long handling one subscriber's bytes can delay the next subscriber's
 * timestamp. The Node client's figure starts after Node has read the socket and
 * parsed HTTP, so it is a lower bound of the same thing. On stderr the client
 * also prints the split (read() syscall vs parsing), reads and bytes per
 * subscriber per event, and epoll_wait calls per event.
 *
 * Build: ../build-c.sh ssefan/ssefan (gcc -O2 -Wall -Wextra -o ssefan ssefan.c). Linux, C11, libc only.
 * Usage: ssefan --url http://127.0.0.1:PORT [--subscribers 100] [--rate 50]
 *               [--duration 10] [--warmup 0] [--server-pid PID] [--clk-tck 100]
 *        ssefan --self-test          parser tests from built-in strings, exit 0/1
 * Testing only: --fault-drop N makes every subscriber ignore every Nth data
 * message it parses (so `lost` must come out > 0).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h> /* isfinite only (a builtin): the build does not link libm */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ limits */

#define MAX_RECONNECTS 20           /* per subscriber, like sse-subscriber.mjs */
#define RECONNECT_DELAY_MS 10.0
#define READY_TIMEOUT_MS 15000.0    /* wait for every subscriber's first control event */
#define DRAIN_MS 5000.0             /* wait for stragglers after the last append */
#define WRITE_TIMEOUT_MS 10000.0    /* per append, like the Node writer */
#define PUT_TIMEOUT_MS 30000.0
#define HTTP_LINE_MAX 8192          /* status, header, chunk-size and trailer lines */
#define OFFSET_MAX 256              /* streamNextOffset */
#define BUF_LIMIT (64u << 20)       /* cap of one SSE line / one event's data */
#define READ_BUF 65536
#define MAX_WRITE_ERROR_KINDS 32

/* ------------------------------------------------------------------ config */

static struct {
    char hostport[300];  /* Host header value: HOST:PORT as given in --url */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    long nsubs;
    double rate, duration, warmup;
    long server_pid;     /* 0 = none */
    double clk_tck;
    long long nwarm;     /* seq < nwarm: warm-up, latency not recorded */
    long long nevents;
    long fault_drop;     /* testing only: ignore every Nth data message */
} cfg;

static char stream_path[64]; /* /v1/stream/sse-fanout-<ms> */

/* ------------------------------------------------------------------ utils */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("[ssefan] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "ssefan: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void *xcalloc(size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p) {
        fprintf(stderr, "ssefan: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* Non-negative x only (no libm in the build). */
static long long ceil_pos(double x)
{
    long long i = (long long)x;
    return (double)i < x ? i + 1 : i;
}

/* JavaScript's Math.round for non-negative x. */
static long long round_pos(double x) { return (long long)(x + 0.5); }

/* A short errno name for error messages, like Node's ("ECONNREFUSED"). */
static const char *errname(int e)
{
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case EPIPE: return "EPIPE";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENETUNREACH: return "ENETUNREACH";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EMFILE: return "EMFILE";
    default: return strerror(e);
    }
}

/* Growable byte buffer, always NUL-terminated. Grows only past its preallocated size. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_init(struct buf *b, size_t cap)
{
    b->p = xmalloc(cap);
    b->cap = cap;
    b->len = 0;
    b->p[0] = 0;
}

static int buf_append(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        if (b->len + n + 1 > BUF_LIMIT) return -1;
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

/* ------------------------------------------------------------------ HTTP/1.1 response parser */

enum hp_state {
    HP_STATUS,     /* status line */
    HP_HEADERS,    /* header lines until the empty one */
    HP_BODY_CL,    /* Content-Length body: `remaining` bytes */
    HP_BODY_EOF,   /* body until the connection closes */
    HP_CHUNK_SIZE, /* chunk-size line (hex, optional ;extensions) */
    HP_CHUNK_DATA, /* `remaining` bytes of chunk data */
    HP_CHUNK_END,  /* the CRLF after chunk data */
    HP_TRAILERS,   /* trailer lines after the last chunk, until the empty one */
    HP_DONE
};

enum { HTTP_MORE = 0, HTTP_DONE = 1, HTTP_ERR = -1 };

typedef void (*body_sink)(void *ctx, const char *p, size_t n);

struct http {
    enum hp_state st;
    int status;
    int headers_done; /* the final (non-1xx) response's headers are parsed */
    int chunked, has_cl, conn_close;
    unsigned long long cl, remaining;
    size_t line_len; /* bytes of an unterminated line carried over in `line` */
    char line[HTTP_LINE_MAX];
};

static void http_reset(struct http *h)
{
    h->st = HP_STATUS;
    h->status = 0;
    h->headers_done = 0;
    h->chunked = h->has_cl = h->conn_close = 0;
    h->cl = h->remaining = 0;
    h->line_len = 0;
}

/* Case-insensitive "does the comma-separated header value contain token". */
static int has_token(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *p = v; *p; p++)
        if (strncasecmp(p, tok, n) == 0) return 1;
    return 0;
}

/* One complete line (CR of CRLF stripped, NUL-terminated). Returns -1 on a protocol error. */
static int http_line(struct http *h, char *line, size_t len)
{
    switch (h->st) {
    case HP_STATUS: {
        if (len == 0) return 0; /* tolerate stray empty lines before the status line */
        /* "HTTP/1.x SSS reason" */
        if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || line[8] != ' ' || !isdigit((unsigned char)line[9]) ||
            !isdigit((unsigned char)line[10]) || !isdigit((unsigned char)line[11]) || (len > 12 && line[12] != ' '))
            return -1;
        h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        h->chunked = h->has_cl = h->conn_close = 0;
        h->st = HP_HEADERS;
        return 0;
    }
    case HP_HEADERS: {
        if (len == 0) {
            if (h->status >= 100 && h->status < 200 && h->status != 101) { /* interim response: skip */
                h->st = HP_STATUS;
                return 0;
            }
            h->headers_done = 1;
            if (h->status == 204 || h->status == 304 || h->status < 200) h->st = HP_DONE;
            else if (h->chunked) h->st = HP_CHUNK_SIZE;
            else if (h->has_cl) {
                h->remaining = h->cl;
                h->st = h->cl ? HP_BODY_CL : HP_DONE;
            } else h->st = HP_BODY_EOF;
            return 0;
        }
        char *colon = memchr(line, ':', len);
        if (!colon || colon == line) return -1;
        *colon = 0;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        if (strcasecmp(line, "transfer-encoding") == 0) {
            if (has_token(v, "chunked")) h->chunked = 1;
        } else if (strcasecmp(line, "content-length") == 0) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (!isdigit((unsigned char)*v) || errno) return -1;
            while (*end == ' ' || *end == '\t') end++;
            if (*end) return -1;
            h->cl = n;
            h->has_cl = 1;
        } else if (strcasecmp(line, "connection") == 0) {
            if (has_token(v, "close")) h->conn_close = 1;
        }
        return 0;
    }
    case HP_CHUNK_SIZE: {
        unsigned long long n = 0;
        size_t i = 0;
        for (; i < len && isxdigit((unsigned char)line[i]); i++) {
            if (n >> 60) return -1; /* absurd size */
            int c = (unsigned char)line[i];
            n = n * 16 + (unsigned)(isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
        }
        if (i == 0) return -1;
        while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
        if (i < len && line[i] != ';') return -1; /* only ;extensions may follow */
        if (n == 0) h->st = HP_TRAILERS;
        else {
            h->remaining = n;
            h->st = HP_CHUNK_DATA;
        }
        return 0;
    }
    case HP_CHUNK_END:
        if (len != 0) return -1;
        h->st = HP_CHUNK_SIZE;
        return 0;
    case HP_TRAILERS:
        if (len == 0) h->st = HP_DONE;
        return 0;
    default:
        return -1;
    }
}

/*
 * Feeds n bytes. Body bytes go to sink (in as many pieces as the framing cuts them into).
 * Returns HTTP_MORE, HTTP_DONE (the response is complete; *used = bytes consumed, the
 * rest belongs to whatever follows) or HTTP_ERR.
 */
static int http_feed(struct http *h, const char *p, size_t n, size_t *used, body_sink sink, void *ctx)
{
    size_t i = 0;
    while (i < n && h->st != HP_DONE) {
        switch (h->st) {
        case HP_BODY_CL:
        case HP_CHUNK_DATA: {
            size_t take = n - i;
            if (take > h->remaining) take = (size_t)h->remaining;
            sink(ctx, p + i, take);
            i += take;
            h->remaining -= take;
            if (h->remaining == 0) h->st = h->st == HP_BODY_CL ? HP_DONE : HP_CHUNK_END;
            break;
        }
        case HP_BODY_EOF:
            sink(ctx, p + i, n - i);
            i = n;
            break;
        default: { /* a line-oriented state: collect up to LF */
            const char *lf = memchr(p + i, '\n', n - i);
            size_t take = lf ? (size_t)(lf - (p + i)) : n - i;
            if (h->line_len + take >= sizeof h->line) return HTTP_ERR;
            memcpy(h->line + h->line_len, p + i, take);
            h->line_len += take;
            i += take;
            if (!lf) break;
            i++; /* the LF */
            size_t len = h->line_len;
            if (len && h->line[len - 1] == '\r') len--;
            h->line[len] = 0;
            h->line_len = 0;
            if (http_line(h, h->line, len) < 0) return HTTP_ERR;
            break;
        }
        }
    }
    *used = i;
    return h->st == HP_DONE ? HTTP_DONE : HTTP_MORE;
}

/* The connection closed: returns HTTP_DONE if that ends the response properly, else HTTP_ERR. */
static int http_eof(struct http *h)
{
    if (h->st == HP_BODY_EOF) h->st = HP_DONE;
    return h->st == HP_DONE ? HTTP_DONE : HTTP_ERR;
}

static void discard_sink(void *ctx, const char *p, size_t n) { (void)ctx, (void)p, (void)n; }

/* ------------------------------------------------------------------ tolerant JSON scanning */

/* What the scanner keeps of one flat JSON object. */
struct obj {
    int seq_ok, t_ok;
    double seq, t;
    const char *off; /* streamNextOffset string (raw, between the quotes) */
    size_t off_len;
};

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static const char *skip_string(const char *p, const char *e) /* p at the opening quote */
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (*p == '"') return p + 1;
    }
    return NULL;
}

static const char *scan_number(const char *p, const char *e, double *out)
{
    const char *q = p;
    if (q < e && *q == '-') q++;
    if (q >= e || !isdigit((unsigned char)*q)) return NULL;
    while (q < e && (isdigit((unsigned char)*q) || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) q++;
    char tmp[64];
    size_t n = (size_t)(q - p);
    if (n >= sizeof tmp) return NULL;
    memcpy(tmp, p, n);
    tmp[n] = 0;
    char *end;
    *out = strtod(tmp, &end);
    return end == tmp + n ? q : NULL;
}

static const char *skip_value(const char *p, const char *e)
{
    double d;
    if (p >= e) return NULL;
    switch (*p) {
    case '"': return skip_string(p, e);
    case '{':
    case '[': {
        int depth = 0;
        while (p < e) {
            if (*p == '"') {
                if (!(p = skip_string(p, e))) return NULL;
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
            p++;
        }
        return NULL;
    }
    case 't': return (e - p >= 4 && !memcmp(p, "true", 4)) ? p + 4 : NULL;
    case 'f': return (e - p >= 5 && !memcmp(p, "false", 5)) ? p + 5 : NULL;
    case 'n': return (e - p >= 4 && !memcmp(p, "null", 4)) ? p + 4 : NULL;
    default: return scan_number(p, e, &d);
    }
}

#define KEY_IS(k, klen, lit) ((klen) == sizeof(lit) - 1 && !memcmp((k), (lit), sizeof(lit) - 1))

/* One JSON object at p; keeps numeric "seq"/"t" and string "streamNextOffset". NULL on a syntax error. */
static const char *scan_object(const char *p, const char *e, struct obj *o)
{
    memset(o, 0, sizeof *o);
    if (p >= e || *p != '{') return NULL;
    p = skip_ws(p + 1, e);
    if (p < e && *p == '}') return p + 1;
    for (;;) {
        if (p >= e || *p != '"') return NULL;
        const char *k = p + 1, *ke = skip_string(p, e);
        if (!ke) return NULL;
        size_t klen = (size_t)(ke - 1 - k);
        p = skip_ws(ke, e);
        if (p >= e || *p != ':') return NULL;
        p = skip_ws(p + 1, e);
        if (p >= e) return NULL;
        int num = *p == '-' || isdigit((unsigned char)*p);
        if (num && KEY_IS(k, klen, "seq")) {
            if (!(p = scan_number(p, e, &o->seq))) return NULL;
            o->seq_ok = 1;
        } else if (num && KEY_IS(k, klen, "t")) {
            if (!(p = scan_number(p, e, &o->t))) return NULL;
            o->t_ok = 1;
        } else if (*p == '"' && KEY_IS(k, klen, "streamNextOffset")) {
            const char *se = skip_string(p, e);
            if (!se) return NULL;
            o->off = p + 1;
            o->off_len = (size_t)(se - 1 - (p + 1));
            p = se;
        } else {
            /* a later non-numeric "seq"/"t" overrides an earlier one, as in JSON.parse */
            if (KEY_IS(k, klen, "seq")) o->seq_ok = 0;
            if (KEY_IS(k, klen, "t")) o->t_ok = 0;
            if (!(p = skip_value(p, e))) return NULL;
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p = skip_ws(p + 1, e);
            continue;
        }
        if (p < e && *p == '}') return p + 1;
        return NULL;
    }
}

/* ------------------------------------------------------------------ subscribers and the SSE parser */

enum ev_type { EV_MESSAGE, EV_DATA, EV_CONTROL, EV_OTHER };

/* Incremental SSE parser state (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
struct sse {
    struct buf line;   /* an unterminated line carried over from earlier bytes */
    struct buf data;   /* data buffer: each data: value + LF */
    int line_overflow; /* the carried line exceeded BUF_LIMIT: drop it, count a parse error */
    int data_overflow;
    int skip_lf;       /* the last byte seen was a CR: an LF right after it ends the same line */
    int has_data;
    enum ev_type type; /* event type buffer */
};

enum sub_state { S_IDLE, S_CONNECTING, S_SENDING, S_READING };

struct sub {
    int idx, fd;
    enum sub_state state;
    struct http hp;
    struct sse sse;
    double now;            /* receive timestamp of the read being parsed */
    uint8_t *seen;         /* bitmap over seq */
    double *lat;           /* latencies of measured events, capacity nevents - nwarm */
    size_t nlat;
    long long received, duplicates, out_of_order, parse_errors, last_seq;
    long long data_msgs;   /* data messages parsed (for --fault-drop) */
    int reconnects;
    char offset[OFFSET_MAX];
    int have_offset;       /* a control event gave streamNextOffset */
    int ready;             /* first control event seen, or failed before it */
    int error;             /* non-200 response or connection error (for `connected`) */
    int closed;            /* the run is over: no more reconnects */
    double reconnect_at;   /* > 0: reconnect due then */
    char req[1024];
    size_t req_len, req_sent;
};

static struct sub *subs;
static long n_ready;            /* subscribers with ready set */
static long n_complete;         /* subscribers with received == nevents */
static long pending_reconnects; /* subscribers with reconnect_at > 0 */
static double busy_ms;          /* time in subscriber read handlers */
static double read_ms;          /* the read() calls' share of busy_ms (diagnostics) */
static long long sub_reads, sub_bytes, epoll_waits; /* diagnostics, on stderr */
static long sub_error_logs;

/* Scratch list of the messages of one data event (grows only if an event holds more). */
static struct obj *msgs;
static size_t msgs_cap;

static struct obj *msg_slot(size_t i)
{
    if (i >= msgs_cap) {
        size_t cap = msgs_cap ? msgs_cap * 2 : 1024;
        while (cap <= i) cap *= 2;
        struct obj *m = realloc(msgs, cap * sizeof *m);
        if (!m) {
            fprintf(stderr, "ssefan: out of memory\n");
            exit(1);
        }
        msgs = m;
        msgs_cap = cap;
    }
    return &msgs[i];
}

static void mark_ready(struct sub *s)
{
    if (!s->ready) {
        s->ready = 1;
        n_ready++;
    }
}

/* A data event's payload: a JSON array of messages or one message. Returns the count, -1 if malformed. */
static long scan_messages(const char *p, const char *e)
{
    size_t n = 0;
    p = skip_ws(p, e);
    if (p < e && *p == '[') {
        p = skip_ws(p + 1, e);
        if (p < e && *p == ']') p++;
        else
            for (;;) {
                if (!(p = scan_object(p, e, msg_slot(n)))) return -1;
                n++;
                p = skip_ws(p, e);
                if (p < e && *p == ',') {
                    p = skip_ws(p + 1, e);
                    continue;
                }
                if (p < e && *p == ']') {
                    p++;
                    break;
                }
                return -1;
            }
    } else {
        if (!(p = scan_object(p, e, msg_slot(0)))) return -1;
        n = 1;
    }
    return skip_ws(p, e) == e ? (long)n : -1;
}

/* The checks, per message, as in sse-subscriber.mjs's dispatch(). */
static void on_data_event(struct sub *s, const char *p, size_t len)
{
    long n = scan_messages(p, p + len);
    if (n < 0) {
        s->parse_errors++;
        return;
    }
    for (long i = 0; i < n; i++) {
        const struct obj *m = &msgs[i];
        if (cfg.fault_drop > 0 && ++s->data_msgs % cfg.fault_drop == 0) continue; /* testing only */
        if (!m->seq_ok || !m->t_ok || !(m->seq >= 0 && m->seq < (double)cfg.nevents) ||
            m->seq != (double)(long long)m->seq) {
            s->parse_errors++;
            continue;
        }
        long long seq = (long long)m->seq;
        uint8_t bit = (uint8_t)(1u << (seq & 7));
        if (s->seen[seq >> 3] & bit) {
            s->duplicates++;
            continue;
        }
        s->seen[seq >> 3] |= bit;
        if (++s->received == cfg.nevents) n_complete++;
        if (seq < s->last_seq) s->out_of_order++;
        if (seq > s->last_seq) s->last_seq = seq;
        if (seq >= cfg.nwarm) s->lat[s->nlat++] = s->now - m->t;
    }
}

static void on_control_event(struct sub *s, const char *p, size_t len)
{
    const char *e = p + len;
    struct obj o;
    const char *q = scan_object(skip_ws(p, e), e, &o);
    if (!q || skip_ws(q, e) != e) s->parse_errors++;
    else if (o.off && o.off_len > 0) {
        if (o.off_len >= OFFSET_MAX || memchr(o.off, '\\', o.off_len))
            s->parse_errors++; /* too long, or escaped: not an offset we can echo back */
        else {
            memcpy(s->offset, o.off, o.off_len);
            s->offset[o.off_len] = 0;
            s->have_offset = 1;
        }
    }
    mark_ready(s);
}

static void sse_dispatch(struct sub *s)
{
    struct sse *x = &s->sse;
    if (x->has_data) {
        if (x->data_overflow) s->parse_errors++;
        else {
            size_t n = x->data.len - 1; /* drop the data buffer's final LF */
            x->data.p[n] = 0;
            if (x->type == EV_CONTROL) on_control_event(s, x->data.p, n);
            else if (x->type == EV_DATA) on_data_event(s, x->data.p, n);
            /* other event types (message, error, ...) are not part of the measurement */
        }
    }
    x->data.len = 0;
    x->has_data = x->data_overflow = 0;
    x->type = EV_MESSAGE;
}

/* One complete SSE line (without its line end). */
static void sse_line(struct sub *s, const char *line, size_t len)
{
    struct sse *x = &s->sse;
    if (len == 0) {
        sse_dispatch(s);
        return;
    }
    if (line[0] == ':') return; /* comment / keep-alive */
    const char *colon = memchr(line, ':', len);
    size_t flen = colon ? (size_t)(colon - line) : len;
    const char *v = colon ? colon + 1 : line + len;
    size_t vlen = (size_t)(line + len - v);
    if (vlen && *v == ' ') v++, vlen--; /* one optional space after the colon */
    if (flen == 4 && !memcmp(line, "data", 4)) {
        if (buf_append(&x->data, v, vlen) < 0 || buf_append(&x->data, "\n", 1) < 0) x->data_overflow = 1;
        x->has_data = 1;
    } else if (flen == 5 && !memcmp(line, "event", 5)) {
        if (vlen == 4 && !memcmp(v, "data", 4)) x->type = EV_DATA;
        else if (vlen == 7 && !memcmp(v, "control", 7)) x->type = EV_CONTROL;
        else if (vlen == 0 || (vlen == 7 && !memcmp(v, "message", 7))) x->type = EV_MESSAGE;
        else x->type = EV_OTHER;
    }
    /* id:, retry: and unknown fields are ignored */
}

/* SSE body bytes, in any pieces. Lines end in LF, CR or CRLF; a CRLF may be split across pieces. */
static void sse_feed(struct sub *s, const char *p, size_t n)
{
    struct sse *x = &s->sse;
    size_t i = 0;
    if (x->skip_lf && n) {
        if (p[0] == '\n') i = 1;
        x->skip_lf = 0;
    }
    while (i < n) {
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r') j++;
        if (j == n) { /* unterminated: keep for the next piece */
            if (!x->line_overflow && buf_append(&x->line, p + i, n - i) < 0) x->line_overflow = 1;
            break;
        }
        if (x->line.len || x->line_overflow) { /* completes a carried-over line */
            if (!x->line_overflow && buf_append(&x->line, p + i, j - i) < 0) x->line_overflow = 1;
            if (x->line_overflow) s->parse_errors++;
            else sse_line(s, x->line.p, x->line.len);
            x->line.len = 0;
            x->line_overflow = 0;
        } else sse_line(s, p + i, j - i); /* the common case: the whole line is in this piece */
        if (p[j] == '\r') {
            if (j + 1 < n) {
                if (p[j + 1] == '\n') j++;
            } else x->skip_lf = 1;
        }
        i = j + 1;
    }
}

static void sse_sink(void *ctx, const char *p, size_t n)
{
    struct sub *s = ctx;
    if (s->hp.status == 200) sse_feed(s, p, n); /* an error response's body is not SSE */
}

static void sub_parsers_reset(struct sub *s)
{
    http_reset(&s->hp);
    s->sse.line.len = s->sse.data.len = 0;
    s->sse.line_overflow = s->sse.data_overflow = s->sse.skip_lf = s->sse.has_data = 0;
    s->sse.type = EV_MESSAGE;
}

/* Allocates a subscriber's parser buffers and resets its counters (seen/lat are set by the caller). */
static void sub_init(struct sub *s, int idx)
{
    memset(s, 0, sizeof *s);
    s->idx = idx;
    s->fd = -1;
    s->last_seq = -1;
    strcpy(s->offset, "now");
    buf_init(&s->sse.line, 4096);
    buf_init(&s->sse.data, 4096);
    sub_parsers_reset(s);
}

/*
 * Bytes read from a subscriber's connection, received at `now`. Returns HTTP_MORE,
 * HTTP_DONE (the response ended) or HTTP_ERR. Pure parsing: no I/O (used by --self-test).
 */
static int sub_on_bytes(struct sub *s, const char *p, size_t n, double now)
{
    size_t used;
    s->now = now;
    int r = http_feed(&s->hp, p, n, &used, sse_sink, s);
    if (s->hp.headers_done && s->hp.status != 200 && !s->error) {
        s->error = 1;
        mark_ready(s);
        if (sub_error_logs++ < 5) logf_("subscriber %d: HTTP %d", s->idx, s->hp.status);
    }
    return r;
}

/* ------------------------------------------------------------------ event loop plumbing */

enum { TAG_TIMER = 1, TAG_WRITER = 2, TAG_SUB = 3 };
#define TAG(t, i) (((uint64_t)(t) << 32) | (uint32_t)(i))

static int epfd = -1, tfd = -1;
static char rbuf[READ_BUF];

static void ep_ctl(int op, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    if (epoll_ctl(epfd, op, fd, &ev) < 0) {
        fprintf(stderr, "ssefan: epoll_ctl: %s\n", strerror(errno));
        exit(1);
    }
}

/* A non-blocking TCP_NODELAY socket with connect() started. -1 with errno on failure. */
static int tcp_connect_nb(void)
{
    int fd = socket(cfg.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&cfg.addr, cfg.addrlen) < 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* encodeURIComponent */
static void uri_encode(const char *in, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if (isalnum(*p) || strchr("-_.!~*'()", *p)) out[o++] = (char)*p;
        else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

/* ------------------------------------------------------------------ subscriber connections */

static void sub_end(struct sub *s);

static void sub_connect(struct sub *s)
{
    char off[3 * OFFSET_MAX + 1];
    uri_encode(s->offset, off, sizeof off);
    sub_parsers_reset(s);
    /* Connection: close, as node:http sends with agent:false (sse-subscriber.mjs). */
    s->req_len = (size_t)snprintf(s->req, sizeof s->req,
                                  "GET %s?offset=%s&live=sse HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n"
                                  "Connection: close\r\n\r\n",
                                  stream_path, off, cfg.hostport);
    s->req_sent = 0;
    s->fd = tcp_connect_nb();
    if (s->fd < 0) {
        if (sub_error_logs++ < 5) logf_("subscriber %d: connect %s", s->idx, errname(errno));
        s->error = 1;
        sub_end(s);
        return;
    }
    s->state = S_CONNECTING;
    ep_ctl(EPOLL_CTL_ADD, s->fd, EPOLLOUT, TAG(TAG_SUB, s->idx));
}

/* The connection ended (response complete, EOF, error): close, and reconnect from the last offset. */
static void sub_end(struct sub *s)
{
    if (s->fd >= 0) close(s->fd); /* also removes it from the epoll set */
    s->fd = -1;
    s->state = S_IDLE;
    if (!s->ready) { /* ended before its first control event: it will not become ready */
        s->error = 1;
        mark_ready(s);
    }
    if (!s->closed && s->reconnects < MAX_RECONNECTS && s->have_offset) {
        s->reconnects++;
        s->reconnect_at = now_ms() + RECONNECT_DELAY_MS;
        pending_reconnects++;
    }
}

static void sub_on_event(struct sub *s)
{
    switch (s->state) {
    case S_IDLE:
        return; /* stale event of a connection closed earlier in this batch */
    case S_CONNECTING: {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            if (sub_error_logs++ < 5) logf_("subscriber %d: connect %s", s->idx, errname(err));
            s->error = 1;
            sub_end(s);
            return;
        }
        s->state = S_SENDING;
    }
    /* fall through */
    case S_SENDING: {
        ssize_t w = send(s->fd, s->req + s->req_sent, s->req_len - s->req_sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            if (sub_error_logs++ < 5) logf_("subscriber %d: write %s", s->idx, errname(errno));
            s->error = 1;
            sub_end(s);
            return;
        }
        s->req_sent += (size_t)w;
        if (s->req_sent == s->req_len) {
            s->state = S_READING;
            ep_ctl(EPOLL_CTL_MOD, s->fd, EPOLLIN, TAG(TAG_SUB, s->idx));
        }
        return;
    }
    case S_READING: {
        double t = now_ms(); /* the receive timestamp of everything this read() returns */
        ssize_t r = read(s->fd, rbuf, sizeof rbuf);
        read_ms += now_ms() - t;
        if (r > 0) {
            sub_reads++;
            sub_bytes += r;
            int st = sub_on_bytes(s, rbuf, (size_t)r, t);
            busy_ms += now_ms() - t;
            if (st == HTTP_DONE) sub_end(s);
            else if (st == HTTP_ERR) {
                s->parse_errors++;
                if (sub_error_logs++ < 5) logf_("subscriber %d: malformed HTTP response", s->idx);
                sub_end(s);
            }
        } else if (r == 0) {
            if (http_eof(&s->hp) != HTTP_DONE && !s->closed && sub_error_logs++ < 5)
                logf_("subscriber %d: connection closed mid-response", s->idx);
            busy_ms += now_ms() - t;
            sub_end(s);
        } else if (errno != EAGAIN && errno != EINTR) {
            if (sub_error_logs++ < 5) logf_("subscriber %d: read %s", s->idx, errname(errno));
            sub_end(s);
        }
        return;
    }
    }
}

/* ------------------------------------------------------------------ CPU window (like cpu.mjs) */

static int read_file(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    if (n < 0) return -1;
    out[n] = 0;
    return 0;
}

/* utime + stime (fields 14, 15) of a /proc stat file; parsed after the last ')' (comm may hold anything). */
static int stat_ticks(const char *path, long long *ut, long long *st)
{
    char b[2048];
    if (read_file(path, b, sizeof b) < 0) return -1;
    char *p = strrchr(b, ')');
    if (!p) return -1;
    p++;
    long long v[13];
    for (int f = 3; f <= 15; f++) { /* fields 3..15 */
        char *end;
        while (*p == ' ') p++;
        if (f == 3) { /* state: a letter */
            if (!*p) return -1;
            while (*p && *p != ' ') p++;
            continue;
        }
        v[f - 3] = strtoll(p, &end, 10);
        if (end == p) return -1;
        p = end;
    }
    *ut = v[14 - 3];
    *st = v[15 - 3];
    return 0;
}

/* Ticks of the JVM's C1/C2 compiler threads of pid; -1 when it has none (e.g. Node). */
static long long jit_ticks(long pid)
{
    char path[320], comm[64];
    long long ticks = -1;
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "/proc/%ld/task/%s/comm", pid, de->d_name);
        if (read_file(path, comm, sizeof comm) < 0) continue;
        if (strncmp(comm, "C1 CompilerThre", 15) && strncmp(comm, "C2 CompilerThre", 15)) continue;
        snprintf(path, sizeof path, "/proc/%ld/task/%s/stat", pid, de->d_name);
        long long u, s;
        if (stat_ticks(path, &u, &s) < 0) continue; /* the thread ended */
        ticks = (ticks < 0 ? 0 : ticks) + u + s;
    }
    closedir(d);
    return ticks;
}

static struct {
    int begun, ended;
    double t0, wall_s;
    int s_ok;
    long long ut0, st0, j0;
    double self0;
    /* results */
    int server_ok;
    double cpu_s, user_s, sys_s, jit_s;
    int jit_ok;
    double load_s;
} cpu;

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void cpu_begin(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", cfg.server_pid);
    cpu.s_ok = cfg.server_pid > 0 && stat_ticks(path, &cpu.ut0, &cpu.st0) == 0;
    cpu.j0 = cfg.server_pid > 0 ? jit_ticks(cfg.server_pid) : -1;
    cpu.self0 = self_cpu_s();
    cpu.t0 = now_ms();
    cpu.begun = 1;
}

static void cpu_end(void)
{
    if (!cpu.begun || cpu.ended) return;
    cpu.ended = 1;
    cpu.wall_s = (now_ms() - cpu.t0) / 1000;
    char path[64];
    long long ut, st;
    snprintf(path, sizeof path, "/proc/%ld/stat", cfg.server_pid);
    if (cpu.s_ok && stat_ticks(path, &ut, &st) == 0 && cpu.wall_s > 0) {
        cpu.server_ok = 1;
        cpu.user_s = (double)(ut - cpu.ut0) / cfg.clk_tck;
        cpu.sys_s = (double)(st - cpu.st0) / cfg.clk_tck;
        cpu.cpu_s = (double)(ut - cpu.ut0 + st - cpu.st0) / cfg.clk_tck;
        long long j1 = jit_ticks(cfg.server_pid);
        cpu.jit_ok = cpu.j0 >= 0 && j1 >= 0;
        cpu.jit_s = cpu.jit_ok ? (double)(j1 - cpu.j0) / cfg.clk_tck : 0;
    }
    cpu.load_s = self_cpu_s() - cpu.self0;
}

/* ------------------------------------------------------------------ the writer */

enum w_state { W_IDLE, W_CONNECTING, W_SENDING, W_WAITING };

static struct {
    int fd;
    enum w_state state;
    uint32_t mask; /* epoll events registered for fd */
    struct http hp;
    char req[1024];
    size_t req_len, req_sent;
    long long next_n;  /* seq of the next append */
    long long sent_ok; /* 200/204 responses */
    double t0, t_req, interval;
    double *lat;
    long long nlat;
    int started, done;
    double end_ms;
    struct {
        char key[128];
        long long n;
    } err[MAX_WRITE_ERROR_KINDS];
    int nerr;
} w = {.fd = -1};

static void werr_add(const char *key)
{
    for (int i = 0; i < w.nerr; i++)
        if (!strcmp(w.err[i].key, key)) {
            w.err[i].n++;
            return;
        }
    int i = w.nerr < MAX_WRITE_ERROR_KINDS ? w.nerr++ : MAX_WRITE_ERROR_KINDS - 1; /* last slot: overflow bucket */
    if (i == MAX_WRITE_ERROR_KINDS - 1 && w.err[i].n) snprintf(w.err[i].key, sizeof w.err[i].key, "other");
    else snprintf(w.err[i].key, sizeof w.err[i].key, "%s", key);
    w.err[i].n++;
}

static void w_close(void)
{
    if (w.fd >= 0) close(w.fd);
    w.fd = -1;
    w.mask = 0;
}

static void w_mask(uint32_t m)
{
    if (w.mask != m) {
        ep_ctl(w.mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, w.fd, m, TAG(TAG_WRITER, 0));
        w.mask = m;
    }
}

/* The append is over (answered or failed): record it and line up the next one. */
static void w_finish(const char *error_key)
{
    double now = now_ms();
    w.lat[w.nlat++] = now - w.t_req;
    if (error_key) {
        werr_add(error_key);
        w_close();
    } else if (w.hp.status == 200 || w.hp.status == 204) w.sent_ok++;
    else {
        char k[16];
        snprintf(k, sizeof k, "%d", w.hp.status);
        werr_add(k);
    }
    if (!error_key && w.hp.conn_close) w_close();
    w.state = W_IDLE;
    if (++w.next_n >= cfg.nevents) {
        w.done = 1;
        w.end_ms = now;
        cpu_end();
    }
}

static void w_try_send(void)
{
    while (w.req_sent < w.req_len) {
        ssize_t n = send(w.fd, w.req + w.req_sent, w.req_len - w.req_sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                w_mask(EPOLLIN | EPOLLOUT);
                return;
            }
            char k[64];
            snprintf(k, sizeof k, "write %s", errname(errno));
            w_finish(k);
            return;
        }
        w.req_sent += (size_t)n;
    }
    w.state = W_WAITING;
    w_mask(EPOLLIN);
}

/* Sends append w.next_n now: {"seq":n,"t":<now, ms, µs precision>}. */
static void w_send(void)
{
    double t = now_ms();
    char body[96];
    int blen = snprintf(body, sizeof body, "{\"seq\":%lld,\"t\":%.3f}", w.next_n, t);
    w.t_req = t;
    w.req_len = (size_t)snprintf(w.req, sizeof w.req,
                                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %d\r\nConnection: keep-alive\r\n\r\n%s",
                                 stream_path, cfg.hostport, blen, body);
    w.req_sent = 0;
    http_reset(&w.hp);
    if (w.fd < 0) {
        w.fd = tcp_connect_nb();
        if (w.fd < 0) {
            char k[64];
            snprintf(k, sizeof k, "connect %s", errname(errno));
            w_finish(k);
            return;
        }
        w.state = W_CONNECTING;
        w_mask(EPOLLOUT);
        return;
    }
    w.state = W_SENDING;
    w_try_send();
}

static void w_on_event(void)
{
    if (w.fd < 0) return;
    if (w.state == W_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof err;
        getsockopt(w.fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err) {
            char k[64];
            snprintf(k, sizeof k, "connect %s", errname(err));
            w_finish(k);
            return;
        }
        w.state = W_SENDING;
    }
    if (w.state == W_SENDING) {
        w_try_send();
        return;
    }
    ssize_t r = read(w.fd, rbuf, sizeof rbuf);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (w.state == W_IDLE) { /* between appends: the server closed the keep-alive connection */
        if (r > 0) logf_("writer: unexpected bytes between responses; reconnecting");
        w_close();
        return;
    }
    if (r > 0) {
        size_t used;
        int st = http_feed(&w.hp, rbuf, (size_t)r, &used, discard_sink, NULL);
        if (st == HTTP_DONE) w_finish(NULL);
        else if (st == HTTP_ERR) w_finish("malformed HTTP response");
    } else if (r == 0) {
        if (http_eof(&w.hp) == HTTP_DONE) {
            w_finish(NULL);
            w_close();
        } else w_finish("socket hang up");
    } else {
        char k[64];
        snprintf(k, sizeof k, "read %s", errname(errno));
        w_finish(k);
    }
}

/* ------------------------------------------------------------------ timers and the loop */

static double armed_at = -1;

static void arm_timer(double at_ms)
{
    if (at_ms == armed_at) return;
    armed_at = at_ms;
    struct itimerspec its = {0};
    if (at_ms < 1e300) {
        if (at_ms < 1) at_ms = 1;
        its.it_value.tv_sec = (time_t)(at_ms / 1000);
        its.it_value.tv_nsec = (long)((at_ms - (double)its.it_value.tv_sec * 1000) * 1e6);
        if (its.it_value.tv_nsec >= 1000000000L) its.it_value.tv_nsec = 999999999L;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static double cpu_due(void) { return w.t0 + (double)cfg.nwarm * w.interval; }

/* Everything that is due: the CPU window, the writer's next append or its timeout, reconnects. */
static void run_timers(void)
{
    double now = now_ms();
    if (w.started && !cpu.begun && now >= cpu_due()) cpu_begin();
    if (w.started && !w.done) {
        if (w.state != W_IDLE && now >= w.t_req + WRITE_TIMEOUT_MS) {
            char k[128];
            snprintf(k, sizeof k, "POST %s: timeout after %.0f ms", stream_path, WRITE_TIMEOUT_MS);
            w_finish(k);
        }
        /* A late append goes out immediately (a failed connect finishes at once: loop). */
        while (w.state == W_IDLE && !w.done && now_ms() >= w.t0 + (double)w.next_n * w.interval) w_send();
    }
    if (pending_reconnects > 0) {
        for (long i = 0; i < cfg.nsubs; i++) {
            struct sub *s = &subs[i];
            if (s->reconnect_at > 0 && now >= s->reconnect_at) {
                s->reconnect_at = 0;
                pending_reconnects--;
                if (!s->closed) sub_connect(s);
            }
        }
    }
}

static double next_deadline(double phase_deadline)
{
    double d = phase_deadline;
    if (w.started && !cpu.begun && cpu_due() < d) d = cpu_due();
    if (w.started && !w.done) {
        double t = w.state == W_IDLE ? w.t0 + (double)w.next_n * w.interval : w.t_req + WRITE_TIMEOUT_MS;
        if (t < d) d = t;
    }
    if (pending_reconnects > 0)
        for (long i = 0; i < cfg.nsubs; i++)
            if (subs[i].reconnect_at > 0 && subs[i].reconnect_at < d) d = subs[i].reconnect_at;
    return d;
}

static void loop_once(double phase_deadline)
{
    struct epoll_event evs[256];
    arm_timer(next_deadline(phase_deadline));
    int n = epoll_wait(epfd, evs, 256, -1);
    epoll_waits++;
    if (n < 0) {
        if (errno == EINTR) return;
        fprintf(stderr, "ssefan: epoll_wait: %s\n", strerror(errno));
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32), idx = (uint32_t)evs[i].data.u64;
        if (tag == TAG_SUB) sub_on_event(&subs[idx]);
        else if (tag == TAG_WRITER) w_on_event();
        else if (tag == TAG_TIMER) {
            uint64_t x;
            if (read(tfd, &x, sizeof x) < 0) { /* EAGAIN: nothing pending */ }
            armed_at = -1;
        }
    }
    run_timers();
}

/* ------------------------------------------------------------------ setup: URL, flags, PUT */

static void usage(FILE *f)
{
    fprintf(f, "usage: ssefan --url http://HOST:PORT [--subscribers 100] [--rate 50] [--duration 10] [--warmup 0]\n"
               "              [--server-pid PID] [--clk-tck 100]\n"
               "       ssefan --self-test\n"
               "testing only: --fault-drop N  (subscribers ignore every Nth data message: `lost` must be > 0)\n");
}

static void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("ssefan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    usage(stderr);
    exit(2);
}

static double num_flag(const char *name, const char *v, double min)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < min) bad_usage("--%s: bad value '%s'", name, v);
    return d;
}

static void parse_url(const char *url)
{
    if (strncmp(url, "http://", 7) != 0) bad_usage("--url must be http://HOST:PORT, got '%s'", url);
    const char *h = url + 7, *hend, *p;
    char host[256], port[16] = "80";
    if (*h == '[') { /* [IPv6] */
        hend = strchr(h, ']');
        if (!hend) bad_usage("bad --url '%s'", url);
        p = hend + 1;
        h++;
    } else {
        hend = h + strcspn(h, ":/?#");
        p = hend;
    }
    if (hend == h || (size_t)(hend - h) >= sizeof host) bad_usage("bad --url '%s' (host)", url);
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    if (*p == ':') {
        const char *q = p + 1;
        size_t n = strspn(q, "0123456789");
        if (n == 0 || n > 5 || (q[n] && !strchr("/?#", q[n]))) bad_usage("bad --url '%s' (port)", url);
        memcpy(port, q, n);
        port[n] = 0;
        p = q + n;
        if (atoi(port) < 1 || atoi(port) > 65535) bad_usage("bad --url '%s' (port)", url);
    } else if (*p && !strchr("/?#", *p)) bad_usage("bad --url '%s'", url);
    /* a path in the URL is ignored, as new URL("/v1/stream/...", base) ignores it */
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc) bad_usage("--url '%s': %s", url, gai_strerror(rc));
    memcpy(&cfg.addr, res->ai_addr, res->ai_addrlen);
    cfg.addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    if (strchr(host, ':')) snprintf(cfg.hostport, sizeof cfg.hostport, "[%s]:%s", host, port);
    else snprintf(cfg.hostport, sizeof cfg.hostport, "%s:%s", host, port);
}

/*
 * PUTs the stream on the writer's connection (kept alive for the appends, as the Node
 * writer shares one keep-alive agent). On failure prints the error result line, exits 1.
 */
static void create_stream(void)
{
    char req[512], err[160] = "";
    int n = snprintf(req, sizeof req,
                     "PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
                     "Connection: keep-alive\r\n\r\n",
                     stream_path, cfg.hostport);
    double deadline = now_ms() + PUT_TIMEOUT_MS;
    int fd = tcp_connect_nb();
    size_t sent = 0;
    int peer_closed = 0;
    struct http *h = &w.hp;
    http_reset(h);
    if (fd < 0) snprintf(err, sizeof err, "connect %s", errname(errno));
    while (!*err) {
        int left = (int)(deadline - now_ms());
        if (left <= 0) {
            snprintf(err, sizeof err, "timeout after %.0f ms", PUT_TIMEOUT_MS);
            break;
        }
        struct pollfd pf = {.fd = fd, .events = sent < (size_t)n ? POLLOUT : POLLIN};
        if (poll(&pf, 1, left) <= 0) continue;
        if (sent < (size_t)n) {
            int e = 0;
            socklen_t l = sizeof e;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
            ssize_t k = e ? -1 : send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
            if (k < 0 && !e) e = errno;
            if (k < 0 && e != EAGAIN && e != EINTR)
                snprintf(err, sizeof err, "%s %s", sent ? "write" : "connect", errname(e));
            else if (k > 0) sent += (size_t)k;
            continue;
        }
        ssize_t r = read(fd, rbuf, sizeof rbuf);
        size_t used;
        if (r > 0) {
            int st = http_feed(h, rbuf, (size_t)r, &used, discard_sink, NULL);
            if (st == HTTP_DONE) break;
            if (st == HTTP_ERR) snprintf(err, sizeof err, "malformed HTTP response");
        } else if (r == 0) {
            peer_closed = 1;
            if (http_eof(h) == HTTP_DONE) break;
            snprintf(err, sizeof err, "socket hang up");
        } else if (errno != EAGAIN && errno != EINTR) snprintf(err, sizeof err, "read %s", errname(errno));
    }
    if (!*err && h->status != 201 && h->status != 200) snprintf(err, sizeof err, "%d", h->status);
    if (*err) {
        printf("{\"error\":\"PUT %s -> %s\"}\n", stream_path, err);
        fflush(stdout);
        exit(1);
    }
    if (h->conn_close || peer_closed) close(fd); /* the first append connects anew */
    else {
        w.fd = fd;
        w_mask(EPOLLIN);
    }
}

/* ------------------------------------------------------------------ result */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of an ascending array, as `percentile` in http.mjs; NAN if empty. */
static double percentile(const double *a, size_t n, double p)
{
    if (n == 0) return NAN;
    long long rank = ceil_pos((p / 100) * (double)n);
    if (rank < 1) rank = 1;
    if (rank > (long long)n) rank = (long long)n;
    return a[rank - 1];
}

static char *out;
static size_t out_len, out_cap;

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(out + out_len, out_cap - out_len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < out_cap - out_len) {
            out_len += (size_t)n;
            return;
        }
        out_cap = out_cap * 2 + (size_t)(n > 0 ? n : 0) + 256;
        out = realloc(out, out_cap);
        if (!out) exit(1);
    }
}

/* A JSON number (shortest of %.15g/%.17g that round-trips), or null. */
static void out_num(double v)
{
    if (!isfinite(v)) {
        outf("null");
        return;
    }
    char b[40];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) snprintf(b, sizeof b, "%.17g", v);
    outf("%s", b);
}

static void out_str(const char *s)
{
    outf("\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') outf("\\%c", c);
        else if (c < 0x20) outf("\\u%04x", c);
        else outf("%c", c);
    }
    outf("\"");
}

/* Diagnostics: with SSEFAN_EVENTS=FILE set, one line per measured event goes to FILE:
 * "index scheduled_ms append_ms min_ms max_ms" (its scheduled send time from the start, the
 * writer's append latency, and the fastest and slowest subscriber's delivery latency), so a
 * p99 can be traced to the events that make it. Subscribers that lost events are skipped. */
static void dump_events(void)
{
    const char *path = getenv("SSEFAN_EVENTS");
    if (!path || !*path) return;
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ssefan: SSEFAN_EVENTS: cannot open %s\n", path);
        return;
    }
    long long measured = cfg.nevents - cfg.nwarm;
    for (long long e = 0; e < measured; e++) {
        double lo = 1e300, hi = -1;
        for (long i = 0; i < cfg.nsubs; i++) {
            struct sub *s = &subs[i];
            if ((long long)s->nlat != measured) continue;
            double v = s->lat[e];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        long long k = cfg.nwarm + e;
        fprintf(f, "%lld %.1f %.3f %.3f %.3f\n", e, (double)k * w.interval, k < w.nlat ? w.lat[k] : -1.0, lo, hi);
    }
    fclose(f);
}

static void print_result(long connected)
{
    long long received = 0, duplicates = 0, ooo = 0, perr = 0, reconnects = 0, complete = 0;
    size_t nlat = 0;
    double *all = cfg.nsubs ? subs[0].lat : NULL; /* the subscribers' slices are contiguous: compact in place */
    for (long i = 0; i < cfg.nsubs; i++) {
        struct sub *s = &subs[i];
        memmove(all + nlat, s->lat, s->nlat * sizeof *all);
        nlat += s->nlat;
        received += s->received;
        duplicates += s->duplicates;
        ooo += s->out_of_order;
        perr += s->parse_errors;
        reconnects += s->reconnects;
        if (s->received == cfg.nevents && s->out_of_order == 0 && s->duplicates == 0) complete++;
    }
    if (nlat) qsort(all, nlat, sizeof *all, cmp_double);
    qsort(w.lat, (size_t)w.nlat, sizeof *w.lat, cmp_double);
    long long expected = (long long)cfg.nsubs * cfg.nevents;
    double write_s = (w.end_ms - w.t0) / 1000;

    outf("{\"subscribers\":%ld,\"connected\":%ld,\"events\":%lld,\"warmup_events\":%lld,\"latency_samples\":%zu,"
         "\"events_acked\":%lld,\"write_errors\":{",
         cfg.nsubs, connected, cfg.nevents, cfg.nwarm, nlat, w.sent_ok);
    for (int i = 0; i < w.nerr; i++) {
        if (i) outf(",");
        out_str(w.err[i].key);
        outf(":%lld", w.err[i].n);
    }
    outf("},\"write_rate\":");
    out_num((double)w.sent_ok / write_s);
    outf(",\"expected_deliveries\":%lld,\"received\":%lld,\"lost\":%lld,\"duplicates\":%lld,\"out_of_order\":%lld,"
         "\"parse_errors\":%lld,\"reconnects\":%lld,\"subscribers_complete\":%lld,\"lat_ms\":{\"p50\":",
         expected, received, expected - received, duplicates, ooo, perr, reconnects, complete);
    out_num(percentile(all, nlat, 50));
    outf(",\"p99\":");
    out_num(percentile(all, nlat, 99));
    outf(",\"max\":");
    out_num(nlat ? all[nlat - 1] : NAN);
    outf("},\"append_lat_ms\":{\"p50\":");
    out_num(percentile(w.lat, (size_t)w.nlat, 50));
    outf(",\"p99\":");
    out_num(percentile(w.lat, (size_t)w.nlat, 99));
    outf("},\"client_handler_ms_per_event\":");
    out_num(busy_ms / (double)cfg.nevents);
    outf(",\"server_cpu\":");
    if (cpu.server_ok) {
        outf("{\"cpu_s\":");
        out_num(cpu.cpu_s);
        outf(",\"user_s\":");
        out_num(cpu.user_s);
        outf(",\"sys_s\":");
        out_num(cpu.sys_s);
        outf(",\"wall_s\":");
        out_num(cpu.wall_s);
        outf(",\"cores\":");
        out_num(cpu.cpu_s / cpu.wall_s);
        outf(",\"jit_s\":");
        out_num(cpu.jit_ok ? cpu.jit_s : NAN);
        outf("}");
    } else outf("null");
    outf(",\"load_cpu\":");
    if (cpu.ended) {
        outf("{\"cpu_s\":");
        out_num(cpu.load_s);
        outf(",\"wall_s\":");
        out_num(cpu.wall_s);
        outf(",\"cores\":");
        out_num(cpu.wall_s > 0 ? cpu.load_s / cpu.wall_s : NAN);
        outf(",\"what\":\"SSE writer + subscribers (C client)\"}");
    } else outf("null");
    outf("}\n");
    fwrite(out, 1, out_len, stdout);
    fflush(stdout);
}

/* ------------------------------------------------------------------ --self-test */

/*
 * Parser cases from built-in strings. Each SSE case is wrapped in an HTTP response (chunked
 * with several chunk-size patterns, or not), and every response is fed whole, one byte per
 * read, split at every single position, and split at every pair of positions (a
 * deterministic sample of 10,000 pairs for inputs over 400 bytes). Whatever the cuts,
 * the counters must come out the same. So chunk boundaries fall inside SSE lines and
 * between the CR and LF of CRLF line ends, and read boundaries inside chunk-size lines
 * and chunk CRLFs.
 */

#define ST_NEVENTS 8
#define ST_NWARM 2
#define ST_NOW 1000.0 /* every read's receive time: latency = 1000 - t */

struct sse_case {
    const char *name;
    const char *sse;                       /* the SSE body */
    int mode;                              /* 0: chunked 200, 1: 200 until EOF, 2: 404 with Content-Length */
    long long received, duplicates, ooo, perr;
    size_t nlat;
    double lat_sum;
    const char *offset;                    /* expected streamNextOffset ("now": none) */
    int error;
};

static const struct sse_case sse_cases[] = {
    {"line ends LF/CR/CRLF, multi-line data, comments, fields without space",
     ": hello\r\n"
     "event: control\r\ndata:{\"streamNextOffset\":\"0_5\",\"streamCursor\":\"7\"}\r\n\r\n"
     "event:data\rdata: [{\"seq\":0,\"t\":1}]\r\r"
     "event: data\r\ndata: [{\"seq\":1,\"t\":900},\r\ndata: {\"seq\":2,\"t\":990.5}]\r\n\r\n"
     "event: data\ndata:{\"seq\":3,\"t\":999}\n\n"
     ": keep-alive\n\n"
     "event: data\r\ndata:[{\"seq\":4,\"t\":998.25}, {\"seq\":5, \"t\":997}]\r\n\r\n"
     "id: 7\nretry: 100\nevent: control\ndata: {\"streamNextOffset\":\"0_42\",\"upToDate\":true}\n\n"
     "event: data\ndata:[{\"seq\":6,\"t\":996,\"x\":\"}\\\"]\",\"n\":{\"a\":[1,{}]}},{\"t\":995,\"seq\":7}]\n\n"
     "event: other\ndata: {\"seq\":0}\n\n"
     "data: {\"seq\":1,\"t\":1}\n\n",
     0, 8, 0, 0, 0, 6, 9.5 + 1 + 1.75 + 3 + 4 + 5, "0_42", 0},
    {"the checks fire: duplicate, out of order, parse errors",
     "event: control\ndata: {\"streamNextOffset\":\"1_0\"}\n\n"
     "event: data\ndata: [{\"seq\":0,\"t\":1}]\n\n"
     "event: data\ndata: [{\"seq\":2,\"t\":990}]\n\n"
     "event: data\ndata: [{\"seq\":1,\"t\":1}]\n\n"          /* out of order */
     "event: data\ndata: [{\"seq\":2,\"t\":1}]\n\n"          /* duplicate */
     "event: data\ndata: [{\"seq\":3,\"t\":1},\n\n"          /* malformed: 1 parse error */
     "event: data\ndata: [{\"seq\":\"4\",\"t\":1}]\n\n"      /* seq not a number */
     "event: data\ndata: {\"seq\":99,\"t\":1}\n\n"           /* seq out of range */
     "event: data\ndata: {\"seq\":1.5,\"t\":1}\n\n"          /* seq not an integer */
     "event: data\ndata: {\"seq\":5}\n\n"                    /* no t */
     "event: data\ndata: {\"seq\":-1,\"t\":1}\n\n"           /* negative */
     "event: data\ndata:\n\n"                                /* empty */
     "event: data\ndata: not json\n\n"
     "event: control\ndata: {\"streamNextOffset\":\n\n"      /* malformed control */
     "event: data\ndata: [{\"seq\":6,\"t\":990},{\"seq\":6,\"t\":990}]\n\n",
     0, 4, 2, 1, 9, 2, 20, "1_0", 0},
    {"SSE body until EOF (no chunking, no length)",
     "event: control\r\ndata: {\"streamNextOffset\":\"9_9\"}\r\n\r\n"
     "event: data\r\ndata: [{\"seq\":2,\"t\":999.5}]\r\n\r\n",
     1, 1, 0, 0, 0, 1, 0.5, "9_9", 0},
    {"error status: body not parsed as SSE",
     "event: control\ndata: {\"streamNextOffset\":\"9_9\"}\n\nevent: data\ndata: [{\"seq\":2,\"t\":1}]\n\n",
     2, 0, 0, 0, 0, 0, 0, "now", 1},
};

/* Chunk-size patterns for mode 0 (cycled); 0 ends the list. */
static const int chunk_patterns[][8] = {{1000000, 0}, {1, 0}, {1, 2, 3, 5, 7, 11, 13, 0}, {17, 4, 0}};

static size_t build_response(const struct sse_case *c, int pattern, char *out, size_t cap)
{
    size_t o = 0, n = strlen(c->sse);
    if (c->mode == 1)
        return (size_t)snprintf(out, cap, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n%s",
                                c->sse);
    if (c->mode == 2)
        return (size_t)snprintf(out, cap, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                                n, c->sse);
    o += (size_t)snprintf(out + o, cap - o,
                          "%sHTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\ncache-control: no-cache\r\n"
                          "transfer-encoding: chunked\r\n\r\n",
                          pattern == 2 ? "HTTP/1.1 100 Continue\r\n\r\n" : "");
    const int *pat = chunk_patterns[pattern];
    for (size_t i = 0, k = 0, nchunk = 0; i < n; nchunk++) {
        size_t len = (size_t)pat[k];
        if (!pat[++k]) k = 0;
        if (len > n - i) len = n - i;
        /* uppercase hex, and an extension on every third chunk */
        o += (size_t)snprintf(out + o, cap - o, nchunk % 3 == 2 ? "%zX;ext=\"a\"\r\n" : "%zX\r\n", len);
        memcpy(out + o, c->sse + i, len);
        o += len;
        o += (size_t)snprintf(out + o, cap - o, "\r\n");
        i += len;
    }
    o += (size_t)snprintf(out + o, cap - o, "0\r\nX-Trailer: 1\r\n\r\n");
    return o;
}

static struct sub st_sub;

/* Feeds resp to a fresh subscriber with reads cut at cuts[0..ncuts) and checks the result. */
static int st_run(const struct sse_case *c, const char *resp, size_t len, const size_t *cuts, int ncuts, char *why,
                  size_t whycap)
{
    struct sub *s = &st_sub;
    sub_parsers_reset(s);
    memset(s->seen, 0, (ST_NEVENTS + 7) / 8);
    s->nlat = 0;
    s->received = s->duplicates = s->out_of_order = s->parse_errors = s->data_msgs = 0;
    s->last_seq = -1;
    strcpy(s->offset, "now");
    s->have_offset = s->ready = s->error = 0;
    int r = HTTP_MORE;
    size_t pos = 0;
    for (int i = 0; i <= ncuts && r == HTTP_MORE; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end > pos) r = sub_on_bytes(s, resp + pos, end - pos, ST_NOW);
        pos = end;
    }
    if (r == HTTP_MORE) r = http_eof(&s->hp);
    double sum = 0;
    for (size_t i = 0; i < s->nlat; i++) sum += s->lat[i];
    if (r != HTTP_DONE) snprintf(why, whycap, "response did not end properly (%d)", r);
    else if (s->received != c->received || s->duplicates != c->duplicates || s->out_of_order != c->ooo ||
             s->parse_errors != c->perr || s->nlat != c->nlat || sum - c->lat_sum > 1e-9 || c->lat_sum - sum > 1e-9 ||
             strcmp(s->offset, c->offset) || s->error != c->error)
        snprintf(why, whycap,
                 "got received=%lld dup=%lld ooo=%lld perr=%lld nlat=%zu lat_sum=%g offset=%s error=%d, "
                 "want %lld/%lld/%lld/%lld/%zu/%g/%s/%d",
                 s->received, s->duplicates, s->out_of_order, s->parse_errors, s->nlat, sum, s->offset, s->error,
                 c->received, c->duplicates, c->ooo, c->perr, c->nlat, c->lat_sum, c->offset, c->error);
    else return 0;
    return -1;
}

/* Writer-side responses: the parser alone, with a collecting sink. */
struct http_case {
    const char *name, *resp;
    int result;             /* HTTP_DONE / HTTP_ERR after feeding all (and EOF if still MORE) */
    int status, conn_close;
    const char *body;
    size_t used;            /* bytes of the first response (0: all) */
};

static const struct http_case http_cases[] = {
    {"204, no body", "HTTP/1.1 204 No Content\r\nStream-Next-Offset: 0_1\r\n\r\n", HTTP_DONE, 204, 0, "", 0},
    {"201, Content-Length: 0", "HTTP/1.1 201 Created\r\ncontent-length: 0\r\nConnection: keep-alive\r\n\r\n", HTTP_DONE,
     201, 0, "", 0},
    {"Content-Length body, Connection: close, a pipelined response after it",
     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n", HTTP_DONE,
     200, 1, "hello", 62},
    {"chunked body, bare-LF chunk lines", "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n2;x=y\r\nde\r\n0\n\n",
     HTTP_DONE, 200, 0, "abcde", 0},
    {"100 Continue then 409 with body", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\nno",
     HTTP_DONE, 409, 0, "no", 0},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", HTTP_ERR, 200, 0, "", 0},
    {"chunk data not followed by CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
     HTTP_ERR, 200, 0, "abc", 0},
    {"bad status line", "HTTP/1.1 2x0 OK\r\n\r\n", HTTP_ERR, 0, 0, "", 0},
    {"bad Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello", HTTP_ERR, 200, 0, "", 0},
    {"EOF inside a chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", HTTP_ERR, 200, 0, "ab", 0},
    {"EOF inside a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", HTTP_ERR, 200, 0, "ab", 0},
};

static struct buf st_body;
static void collect_sink(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    buf_append(&st_body, p, n);
}

static int st_http_run(const struct http_case *c, const size_t *cuts, int ncuts, char *why, size_t whycap)
{
    struct http *h = &w.hp;
    size_t len = strlen(c->resp), pos = 0, used = 0, total = 0;
    http_reset(h);
    st_body.len = 0;
    st_body.p[0] = 0;
    int r = HTTP_MORE;
    for (int i = 0; i <= ncuts && r == HTTP_MORE; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        if (end > pos) {
            r = http_feed(h, c->resp + pos, end - pos, &used, collect_sink, NULL);
            total = pos + used;
        }
        pos = end;
    }
    if (r == HTTP_MORE) r = http_eof(h);
    size_t want_used = c->used ? c->used : len;
    if (r != c->result || (r == HTTP_DONE && (h->status != c->status || h->conn_close != c->conn_close ||
                                               strcmp(st_body.p, c->body) || total != want_used)))
        snprintf(why, whycap, "got result=%d status=%d close=%d body='%s' used=%zu, want %d/%d/%d/'%s'/%zu", r, h->status,
                 h->conn_close, st_body.p, total, c->result, c->status, c->conn_close, c->body, want_used);
    else return 0;
    return -1;
}

/* Runs `one` over the cut sets: none, every byte, every single cut, every pair (sampled when long). */
#define FOR_EACH_CUTS(len, BODY)                                                                                      \
    do {                                                                                                              \
        size_t cuts_[2];                                                                                              \
        const size_t *cuts = NULL;                                                                                    \
        int ncuts = 0;                                                                                                \
        BODY;                                                                                                         \
        size_t *every_ = xmalloc((len) * sizeof *every_);                                                             \
        for (size_t k_ = 0; k_ + 1 < (len); k_++) every_[k_] = k_ + 1;                                                \
        cuts = every_;                                                                                                \
        ncuts = (int)(len) - 1;                                                                                       \
        BODY;                                                                                                         \
        free(every_);                                                                                                 \
        cuts = cuts_;                                                                                                 \
        ncuts = 1;                                                                                                    \
        for (cuts_[0] = 1; cuts_[0] < (len); cuts_[0]++) BODY;                                                        \
        ncuts = 2;                                                                                                    \
        if ((len) <= 400) {                                                                                           \
            for (cuts_[0] = 1; cuts_[0] < (len); cuts_[0]++)                                                          \
                for (cuts_[1] = cuts_[0] + 1; cuts_[1] < (len); cuts_[1]++) BODY;                                     \
        } else {                                                                                                      \
            uint64_t rng_ = 0x9E3779B97F4A7C15ull;                                                                    \
            for (int k_ = 0; k_ < 10000; k_++) {                                                                      \
                rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;                                        \
                size_t a_ = 1 + (size_t)((rng_ >> 33) % ((len) - 1)), b_ = 1 + (size_t)((rng_ >> 11) % ((len) - 1)); \
                if (a_ == b_) continue;                                                                               \
                cuts_[0] = a_ < b_ ? a_ : b_;                                                                         \
                cuts_[1] = a_ < b_ ? b_ : a_;                                                                         \
                BODY;                                                                                                 \
            }                                                                                                         \
        }                                                                                                             \
    } while (0)

static int self_test(void)
{
    cfg.nevents = ST_NEVENTS;
    cfg.nwarm = ST_NWARM;
    cfg.fault_drop = 0;
    sub_error_logs = 5; /* the 404 case would log on every feed */
    sub_init(&st_sub, 0);
    st_sub.seen = xcalloc((ST_NEVENTS + 7) / 8);
    st_sub.lat = xmalloc(ST_NEVENTS * sizeof(double));
    buf_init(&st_body, 256);
    static char resp[1 << 16];
    char why[512];
    long runs = 0, failed_cases = 0;

    for (size_t ci = 0; ci < sizeof sse_cases / sizeof *sse_cases; ci++) {
        const struct sse_case *c = &sse_cases[ci];
        int npat = c->mode == 0 ? (int)(sizeof chunk_patterns / sizeof *chunk_patterns) : 1;
        for (int pi = 0; pi < npat; pi++) {
            size_t len = build_response(c, pi, resp, sizeof resp);
            long fails = 0;
            FOR_EACH_CUTS(len, {
                runs++;
                if (st_run(c, resp, len, cuts, ncuts, why, sizeof why) < 0 && fails++ == 0)
                    fprintf(stderr, "FAIL sse '%s' (chunk pattern %d, %d cuts%s%zu%s%zu): %s\n", c->name, pi, ncuts,
                            ncuts ? " at " : "", ncuts ? cuts[0] : 0, ncuts > 1 ? "," : "",
                            ncuts > 1 ? cuts[1] : 0, why);
            });
            static const char *const pattern_names[] = {"one chunk", "1-byte chunks",
                                                         "chunks 1,2,3,5,... after a 100 Continue", "chunks 17,4"};
            if (fails) failed_cases++;
            else fprintf(stderr, "ok   sse '%s' (%s, %zu bytes)\n", c->name,
                         c->mode == 1 ? "until EOF" : c->mode == 2 ? "404" : pattern_names[pi], len);
        }
    }
    for (size_t ci = 0; ci < sizeof http_cases / sizeof *http_cases; ci++) {
        const struct http_case *c = &http_cases[ci];
        size_t len = strlen(c->resp);
        long fails = 0;
        FOR_EACH_CUTS(len, {
            runs++;
            if (st_http_run(c, cuts, ncuts, why, sizeof why) < 0 && fails++ == 0)
                fprintf(stderr, "FAIL http '%s' (%d cuts%s%zu): %s\n", c->name, ncuts, ncuts ? " at " : "",
                        ncuts ? cuts[0] : 0, why);
        });
        if (fails) failed_cases++;
        else fprintf(stderr, "ok   http '%s'\n", c->name);
    }
    fprintf(stderr, "self-test: %ld feeds, %s\n", runs, failed_cases ? "FAILED" : "all passed");
    return failed_cases ? 1 : 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const char *url = NULL;
    int self = 0;
    cfg.nsubs = 100;
    cfg.rate = 50;
    cfg.duration = 10;
    cfg.warmup = 0;
    cfg.clk_tck = 100;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--self-test")) {
            self = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) bad_usage("unexpected argument '%s'", a);
        if (i + 1 >= argc) bad_usage("%s needs a value", a);
        const char *v = argv[++i], *name = a + 2;
        if (!strcmp(name, "url")) url = v;
        else if (!strcmp(name, "subscribers")) {
            double d = num_flag(name, v, 0);
            if (d != (double)(long)d || d > 1000000) bad_usage("--subscribers: bad value '%s'", v);
            cfg.nsubs = (long)d;
        } else if (!strcmp(name, "rate")) {
            cfg.rate = num_flag(name, v, 0);
            if (cfg.rate <= 0) bad_usage("--rate must be > 0");
        } else if (!strcmp(name, "duration")) cfg.duration = num_flag(name, v, 0);
        else if (!strcmp(name, "warmup")) cfg.warmup = num_flag(name, v, 0);
        else if (!strcmp(name, "server-pid")) {
            double d = num_flag(name, v, 1);
            if (d != (double)(long)d) bad_usage("--server-pid: bad value '%s'", v);
            cfg.server_pid = (long)d;
        } else if (!strcmp(name, "clk-tck")) {
            cfg.clk_tck = num_flag(name, v, 1);
        } else if (!strcmp(name, "fault-drop")) {
            double d = num_flag(name, v, 1);
            if (d != (double)(long)d) bad_usage("--fault-drop: bad value '%s'", v);
            cfg.fault_drop = (long)d;
        } else bad_usage("unknown flag '%s'", a);
    }
    if (self) return self_test();
    if (!url) bad_usage("--url is required");
    parse_url(url);
    if (cfg.rate * (cfg.warmup + cfg.duration) > 1e8) bad_usage("--rate x (--warmup + --duration) is too large");
    cfg.nwarm = round_pos(cfg.rate * cfg.warmup);
    long long nmeas = round_pos(cfg.rate * cfg.duration);
    cfg.nevents = cfg.nwarm + (nmeas > 1 ? nmeas : 1);
    if (cfg.fault_drop) logf_("FAULT INJECTION: every %ldth data message is ignored (testing only)", cfg.fault_drop);

    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg.nsubs + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)cfg.nsubs + 64 ? rl.rlim_max : (rlim_t)cfg.nsubs + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    snprintf(stream_path, sizeof stream_path, "/v1/stream/sse-fanout-%lld",
             (long long)rt.tv_sec * 1000 + rt.tv_nsec / 1000000);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epfd < 0 || tfd < 0) {
        fprintf(stderr, "ssefan: epoll/timerfd: %s\n", strerror(errno));
        return 1;
    }
    ep_ctl(EPOLL_CTL_ADD, tfd, EPOLLIN, TAG(TAG_TIMER, 0));
    w.lat = xmalloc((size_t)cfg.nevents * sizeof *w.lat);
    w.interval = 1000 / cfg.rate;

    create_stream();

    /* Subscribers: every buffer allocated here, none per event. */
    size_t nmeasured = (size_t)(cfg.nevents - cfg.nwarm), seen_bytes = (size_t)(cfg.nevents + 7) / 8;
    subs = xcalloc((size_t)cfg.nsubs * sizeof *subs);
    uint8_t *seen = xcalloc((size_t)cfg.nsubs * seen_bytes);
    double *lat = xmalloc((size_t)cfg.nsubs * nmeasured * sizeof *lat);
    msg_slot(0);
    for (long i = 0; i < cfg.nsubs; i++) {
        sub_init(&subs[i], (int)i);
        subs[i].seen = seen + (size_t)i * seen_bytes;
        subs[i].lat = lat + (size_t)i * nmeasured;
    }
    for (long i = 0; i < cfg.nsubs; i++) sub_connect(&subs[i]);

    double deadline = now_ms() + READY_TIMEOUT_MS;
    while (n_ready < cfg.nsubs && now_ms() < deadline) loop_once(deadline);
    long connected = 0;
    for (long i = 0; i < cfg.nsubs; i++) connected += !subs[i].error && subs[i].have_offset;
    logf_("%ld/%ld subscribers connected%s", connected, cfg.nsubs, n_ready < cfg.nsubs ? " (timed out waiting)" : "");

    /* The writer: append n due at t0 + n / rate; the CPU window opens when append nwarm is due. */
    w.started = 1;
    w.t0 = now_ms();
    run_timers();
    while (!w.done) loop_once(1e308);
    logf_("writer: %lld appends in %.2f s, %lld acknowledged", cfg.nevents, (w.end_ms - w.t0) / 1000, w.sent_ok);

    deadline = now_ms() + DRAIN_MS;
    while (n_complete < cfg.nsubs && now_ms() < deadline) loop_once(deadline);
    for (long i = 0; i < cfg.nsubs; i++) {
        subs[i].closed = 1;
        if (subs[i].fd >= 0) close(subs[i].fd);
        subs[i].fd = -1;
    }
    w_close();
    logf_("%ld/%ld subscribers got every event", n_complete, cfg.nsubs);
    double per_ev = (double)cfg.nevents * (double)(cfg.nsubs ? cfg.nsubs : 1);
    logf_("per subscriber per event: %.2f reads, %.0f bytes; handler %.2f us (read() %.2f us, parsing %.2f us); "
          "%.1f epoll_waits per event",
          (double)sub_reads / per_ev, (double)sub_bytes / per_ev, busy_ms * 1e3 / per_ev, read_ms * 1e3 / per_ev,
          (busy_ms - read_ms) * 1e3 / per_ev, (double)epoll_waits / (double)cfg.nevents);
    dump_events();
    print_result(connected);
    return 0;
}
