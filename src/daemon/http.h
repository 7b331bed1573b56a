/* A minimal HTTP/1.1 server on a libuv loop, for /metrics and health probes.
 * Requests are parsed by Debian's http-parser; the handler runs on the loop
 * thread and must answer at once (it never blocks). The server owns its
 * listening handle and every connection; nothing here is thread-safe, so
 * call it from the loop thread only.
 *
 * Behaviour a client sees: GET and HEAD reach the handler, other methods
 * get 405 with Allow; malformed requests get 400, a request line plus
 * headers over SR_HTTP_MAX_HEAD bytes or a body over SR_HTTP_MAX_BODY bytes
 * get 413, and both close the connection. Keep-alive is honoured, one
 * request at a time per connection (pipelined requests wait their turn).
 *
 * Slow and idle clients cannot starve the health probes: a connection must
 * complete each request (and take its response) within the idle timeout of
 * opening or of its previous response, or it is closed; and a new
 * connection from a peer address that already holds max_per_peer, or one
 * that would exceed max_conns in all, closes the least recently active
 * connection waiting for a request (of that peer, or of anyone) to make
 * room. A probe, which sends its request at once, is then served unless
 * that many newer connections pushed it out first. Only when every
 * connection is busy with a response is the new one accepted and closed at
 * once. The caller handles a disabled endpoint ("off") by not creating a
 * server. */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include "streamrec/common.h"
#include "util/buf.h"

#include <uv.h>

/* Longest request line plus headers, and longest body, in bytes. */
#define SR_HTTP_MAX_HEAD 8192
#define SR_HTTP_MAX_BODY 8192
/* Default limits (see sr_http_limits_t). */
#define SR_HTTP_MAX_CONNS 64
#define SR_HTTP_MAX_PER_PEER 16
#define SR_HTTP_IDLE_MS 5000

typedef struct sr_http sr_http_t;

/* How many connections a server keeps and for how long; 0 keeps the
 * current value. */
typedef struct sr_http_limits {
  uint32_t max_conns;    /* open connections at once */
  uint32_t max_per_peer; /* open connections from one peer address */
  uint64_t idle_ms;      /* time to complete the next request */
} sr_http_limits_t;

/* Connections now open and, since the start, closed by the server's own
 * limits rather than by the client or an answer. */
typedef struct sr_http_stats {
  uint64_t open;      /* open, not counting ones being closed */
  uint64_t timed_out; /* no complete request within the idle timeout */
  uint64_t evicted;   /* closed to make room for a newer connection */
  uint64_t refused;   /* accepted and closed at once: no room */
} sr_http_stats_t;

/* What the handler answers. The server presets status 200, content_type
 * "text/plain; charset=utf-8" and an empty body, and frees the body after
 * sending it (HEAD sends only its length). content_type must outlive the
 * call (a string literal). */
typedef struct sr_http_response {
  int status;
  const char *content_type;
  sr_buf_t body;
} sr_http_response_t;

/* Called once per GET or HEAD request with method "GET" or "HEAD" and the
 * path without query or fragment, not percent-decoded ("/metrics"). An
 * unknown path is the handler's to answer, usually with 404. */
typedef void sr_http_handler_cb(void *opaque, const char *method,
                                const char *path, sr_http_response_t *res);

/* Called when sr_http_close has released everything. */
typedef void sr_http_done_cb(void *opaque);

/* Starts listening on addr, "HOST:PORT" with a numeric IPv4 host or a
 * bracketed IPv6 one ("127.0.0.1:9464", "[::1]:9464"); port 0 picks a free
 * one (see sr_http_port). Sets http-parser's process-wide header limit to
 * SR_HTTP_MAX_HEAD. Returns NULL and fills errstr on a bad address, a
 * failed bind or listen (address in use), or no memory; nothing is left to
 * close then, except when libuv refuses the bound socket, whose handle is
 * freed when the loop next runs. */
sr_http_t *sr_http_new(uv_loop_t *loop, const char *addr,
                       sr_http_handler_cb *cb, void *opaque, char *errstr,
                       size_t len);

/* The port the server is bound to, or -1 when unknown. */
int sr_http_port(const sr_http_t *http);

/* Number of open connections (including ones being closed). */
unsigned sr_http_conns(const sr_http_t *http);

/* Changes the limits; the caps hold from the next connection on, the idle
 * timeout from the next time a connection's timer starts. The defaults are
 * SR_HTTP_MAX_CONNS, SR_HTTP_MAX_PER_PEER and SR_HTTP_IDLE_MS. */
void sr_http_set_limits(sr_http_t *http, const sr_http_limits_t *lim);

/* The counts behind the server's connection metrics. */
sr_http_stats_t sr_http_stats(const sr_http_t *http);

/* Stops listening and closes every connection; pending responses are
 * dropped. The memory is freed in libuv close callbacks, after which done
 * (may be NULL) is called with opaque; the loop must keep running until
 * then. http must not be used after this call. */
void sr_http_close(sr_http_t *http, sr_http_done_cb *done, void *opaque);

#endif
