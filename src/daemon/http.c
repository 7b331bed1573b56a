/* HTTP/1.1 server: one uv_tcp_t and one uv_timer_t per connection, requests
 * parsed by http-parser and answered one at a time. While a response is
 * being written the parser is paused and reading stops, so a client that
 * pipelines or floods holds at most one read's worth of bytes and one
 * response in memory. A connection ends by writing its last response,
 * shutting down its side and discarding input until the peer closes (or a
 * short linger expires): closing with unread input would make the kernel
 * reset the connection and lose the 400/413 the client is owed. */
#include "daemon/http.h"
#include "util/buf.h"
#include "util/err.h"

#include <http_parser.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One read's buffer, shared by all connections: a read callback consumes or
 * copies its bytes before the loop reads again. */
#define READ_BUF_SIZE 65536
/* How long a closing connection waits for the peer after shutdown. */
#define LINGER_MS 2000
#define LISTEN_BACKLOG 511
#define DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"

typedef struct conn conn_t;

/* A peer's address without its port: connections of one client (or one
 * NAT) share it. */
typedef struct peer {
  sa_family_t family;
  unsigned char addr[16];
} peer_t;

typedef enum conn_state {
  ST_READING, /* parsing requests */
  ST_WRITING, /* a response is in flight; parser paused, not reading */
  ST_LINGER,  /* last response sent or queued; input discarded */
  ST_CLOSING  /* uv_close called on both handles */
} conn_state_t;

struct sr_http {
  uv_loop_t *loop;
  uv_tcp_t listener;
  sr_http_handler_cb *cb;
  void *opaque;
  conn_t *conns;
  unsigned n_conns;
  unsigned n_live; /* connections not yet closing */
  sr_http_limits_t lim;
  sr_http_stats_t stats;
  int closing;
  int listener_open;
  sr_http_done_cb *done;
  void *done_opaque;
  char rbuf[READ_BUF_SIZE];
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer; /* idle timeout, then linger timeout */
  uv_shutdown_t shutdown;
  http_parser parser;
  sr_http_t *http;
  conn_t *prev;
  conn_t *next;
  conn_state_t state;
  int handles; /* open handles; the connection is freed at 0 */
  int reading;
  int err_status; /* status a parser callback chose for its error */
  uint64_t since; /* loop time of the accept or of the last response */
  peer_t peer;
  uint64_t body_bytes;
  sr_buf_t url;
  sr_buf_t stash; /* bytes read but not parsed while a response is sent */
};

typedef struct wreq {
  uv_write_t req;
  conn_t *c;
  sr_buf_t head;
  sr_buf_t body;
} wreq_t;

static void conn_feed(conn_t *c, const char *data, size_t len);

static void conn_unlink(conn_t *c) {
  sr_http_t *http = c->http;
  if (c->prev)
    c->prev->next = c->next;
  else
    http->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  http->n_conns--;
}

static void http_maybe_finish(sr_http_t *http) {
  if (!http->closing || http->listener_open || http->n_conns)
    return;
  sr_http_done_cb *done = http->done;
  void *opaque = http->done_opaque;
  free(http);
  if (done)
    done(opaque);
}

static void on_conn_closed(uv_handle_t *handle) {
  conn_t *c = handle->data;
  if (--c->handles > 0)
    return;
  sr_http_t *http = c->http;
  conn_unlink(c);
  sr_buf_free(&c->url);
  sr_buf_free(&c->stash);
  free(c);
  http_maybe_finish(http);
}

static void conn_close(conn_t *c) {
  if (c->state == ST_CLOSING)
    return;
  c->state = ST_CLOSING;
  c->http->n_live--;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
}

/* Fires for the idle timeout, or for the linger after a last response. */
static void on_timeout(uv_timer_t *timer) {
  conn_t *c = timer->data;
  if (c->state != ST_LINGER)
    c->http->stats.timed_out++;
  conn_close(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
  conn_t *c = handle->data;
  (void)suggested;
  *buf = uv_buf_init(c->http->rbuf, sizeof(c->http->rbuf));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = stream->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  /* A lingering connection only waits for EOF; what it sends is dropped. */
  if (c->state == ST_READING || c->state == ST_WRITING)
    conn_feed(c, buf->base, (size_t)nread);
}

static void conn_read_start(conn_t *c) {
  if (c->reading)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
    conn_close(c);
    return;
  }
  c->reading = 1;
}

static void conn_read_stop(conn_t *c) {
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn_t *c = req->data;
  if (c->state != ST_LINGER)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
}

/* Ends the connection once the queued response is out: shutdown waits for
 * the write queue, and reading goes on only to see the peer's EOF. */
static void conn_linger(conn_t *c) {
  c->state = ST_LINGER;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  conn_read_start(c);
}

/* Parses the bytes kept while the last response was written, then reads on
 * unless another complete request paused the parser again. */
static void conn_resume(conn_t *c) {
  http_parser_pause(&c->parser, 0);
  sr_buf_t in = c->stash;
  memset(&c->stash, 0, sizeof(c->stash));
  if (in.len)
    conn_feed(c, in.data, in.len);
  sr_buf_free(&in);
  if (c->state == ST_READING)
    conn_read_start(c);
}

static void on_write(uv_write_t *req, int status) {
  wreq_t *w = req->data;
  conn_t *c = w->c;
  sr_buf_free(&w->head);
  sr_buf_free(&w->body);
  free(w);
  if (c->state != ST_WRITING)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->state = ST_READING;
  c->since = uv_now(c->http->loop);
  uv_timer_start(&c->timer, on_timeout, c->http->lim.idle_ms, 0);
  conn_resume(c);
}

static int format_head(sr_buf_t *head, const sr_http_response_t *res,
                       size_t body_len, int keep_alive) {
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return sr_buf_printf(head,
                       "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
                       "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n",
                       res->status,
                       http_status_str((enum http_status)res->status), date,
                       res->content_type, body_len,
                       res->status == 405 ? "Allow: GET, HEAD\r\n" : "",
                       keep_alive ? "keep-alive" : "close");
}

/* Queues res (taking its body) and moves to ST_WRITING, or to ST_LINGER
 * when the connection ends with this response. */
static void conn_respond(conn_t *c, sr_http_response_t *res, int head_only,
                         int keep_alive) {
  wreq_t *w = calloc(1, sizeof(*w));
  if (!w || format_head(&w->head, res, res->body.len, keep_alive) != 0) {
    sr_buf_free(&res->body);
    if (w)
      sr_buf_free(&w->head);
    free(w);
    conn_close(c);
    return;
  }
  w->c = c;
  w->req.data = w;
  w->body = res->body;
  if (head_only)
    sr_buf_free(&w->body);
  uv_buf_t bufs[2] = {uv_buf_init(w->head.data, (unsigned)w->head.len),
                      uv_buf_init(w->body.data, (unsigned)w->body.len)};
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, w->body.len ? 2 : 1,
               on_write) != 0) {
    sr_buf_free(&w->head);
    sr_buf_free(&w->body);
    free(w);
    conn_close(c);
    return;
  }
  if (keep_alive) {
    c->state = ST_WRITING;
    conn_read_stop(c);
  } else {
    conn_linger(c);
  }
}

static void conn_respond_text(conn_t *c, int status, const char *text,
                              int keep_alive) {
  sr_http_response_t res = {.status = status,
                            .content_type = DEFAULT_CONTENT_TYPE};
  if (sr_buf_printf(&res.body, "%s\n", text) != 0) {
    conn_close(c);
    return;
  }
  conn_respond(c, &res, 0, keep_alive);
}

/* NUL-terminates the path of the request target inside c->url and returns
 * it, "/" when the target has none, or NULL when it does not parse. */
static const char *conn_path(conn_t *c) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (c->url.len == 0 ||
      http_parser_parse_url(c->url.data, c->url.len, 0, &u) != 0 ||
      sr_buf_append(&c->url, "", 1) != 0)
    return NULL;
  if (!(u.field_set & (1 << UF_PATH)))
    return "/";
  c->url.data[u.field_data[UF_PATH].off + u.field_data[UF_PATH].len] = '\0';
  return c->url.data + u.field_data[UF_PATH].off;
}

static void conn_dispatch(conn_t *c) {
  http_parser *p = &c->parser;
  /* An upgrade or CONNECT hands the rest of the stream to another protocol
   * this server does not speak, so it answers and closes. */
  int keep_alive = http_should_keep_alive(p) && !p->upgrade;
  int head_only = p->method == HTTP_HEAD;
  if (p->method != HTTP_GET && !head_only) {
    conn_respond_text(c, 405, "method not allowed", keep_alive);
    return;
  }
  const char *path = conn_path(c);
  if (!path) {
    conn_respond_text(c, 400, "bad request target", 0);
    return;
  }
  sr_http_response_t res = {.status = 200,
                            .content_type = DEFAULT_CONTENT_TYPE};
  c->http->cb(c->http->opaque, http_method_str(p->method), path, &res);
  conn_respond(c, &res, head_only, keep_alive);
}

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  c->url.len = 0;
  c->body_bytes = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->url.len + len > SR_HTTP_MAX_HEAD) {
    c->err_status = 413;
    return -1;
  }
  if (sr_buf_append(&c->url, at, len) != 0) {
    c->err_status = 500;
    return -1;
  }
  return 0;
}

/* A declared body that is too large is refused before it is sent. */
static int on_headers_complete(http_parser *p) {
  conn_t *c = p->data;
  if (p->content_length != ULLONG_MAX && p->content_length > SR_HTTP_MAX_BODY) {
    c->err_status = 413;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  (void)at;
  c->body_bytes += len;
  if (c->body_bytes > SR_HTTP_MAX_BODY) {
    c->err_status = 413;
    return -1;
  }
  return 0;
}

/* Answers, then pauses the parser so that the next request waits for this
 * response to be written. */
static int on_message_complete(http_parser *p) {
  conn_dispatch(p->data);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void conn_feed(conn_t *c, const char *data, size_t len) {
  size_t n = http_parser_execute(&c->parser, &parser_settings, data, len);
  enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
  if (err == HPE_PAUSED) {
    if (c->state == ST_WRITING && n < len &&
        sr_buf_append(&c->stash, data + n, len - n) != 0)
      conn_close(c);
    return;
  }
  if (err == HPE_OK)
    return;
  if (err == HPE_HEADER_OVERFLOW)
    c->err_status = 413;
  if (c->err_status == 413)
    conn_respond_text(c, 413, "request too large", 0);
  else if (c->err_status == 500)
    conn_respond_text(c, 500, "out of memory", 0);
  else
    conn_respond_text(c, 400, http_errno_description(err), 0);
}

static void on_rejected_closed(uv_handle_t *handle) {
  free(handle);
}

/* Out of memory: accept (libuv stops watching the listener until the
 * pending connection is taken) and close at once. */
static void http_reject(sr_http_t *http) {
  uv_tcp_t *tcp = malloc(sizeof(*tcp));
  if (!tcp || uv_tcp_init(http->loop, tcp) != 0) {
    free(tcp);
    return;
  }
  uv_accept((uv_stream_t *)&http->listener, (uv_stream_t *)tcp);
  uv_close((uv_handle_t *)tcp, on_rejected_closed);
}

static conn_t *conn_new(sr_http_t *http) {
  conn_t *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  if (uv_tcp_init(http->loop, &c->tcp) != 0) {
    free(c);
    return NULL;
  }
  uv_timer_init(http->loop, &c->timer);
  c->handles = 2;
  c->http = http;
  c->tcp.data = c->timer.data = c->shutdown.data = c;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = http->conns;
  if (http->conns)
    http->conns->prev = c;
  http->conns = c;
  http->n_conns++;
  http->n_live++;
  c->since = uv_now(http->loop);
  return c;
}

/* Fills c->peer from the socket; a peer that cannot be read shares the
 * all-zero address with other such peers. */
static void conn_peer(conn_t *c) {
  struct sockaddr_storage ss;
  int sslen = sizeof(ss);
  memset(&c->peer, 0, sizeof(c->peer));
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) != 0)
    return;
  c->peer.family = ss.ss_family;
  if (ss.ss_family == AF_INET6)
    memcpy(c->peer.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
  else if (ss.ss_family == AF_INET)
    memcpy(c->peer.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
}

static int same_peer(const conn_t *a, const conn_t *b) {
  return a->peer.family == b->peer.family &&
         memcmp(a->peer.addr, b->peer.addr, sizeof(a->peer.addr)) == 0;
}

/* A connection waiting for its client (idle, a request half sent, or a
 * last response lingering) can go; one whose response is being written is
 * served to the end. */
static int evictable(const conn_t *c) {
  return c->state == ST_READING || c->state == ST_LINGER;
}

/* Makes room for the new connection c: closes the least recently active
 * evictable connection of c's peer when the peer is at its cap, then the
 * least recently active of anyone when the server is at its cap. Returns
 * -1 when a cap still holds because nothing could be closed. */
static int make_room(sr_http_t *http, conn_t *c) {
  unsigned peer_live = 0;
  conn_t *oldest = NULL, *oldest_of_peer = NULL;
  /* The list runs newest first, so on equal times the later one is older. */
  for (conn_t *o = http->conns; o; o = o->next) {
    if (o == c || o->state == ST_CLOSING)
      continue;
    int mine = same_peer(o, c);
    peer_live += (unsigned)mine;
    if (!evictable(o))
      continue;
    if (!oldest || o->since <= oldest->since)
      oldest = o;
    if (mine && (!oldest_of_peer || o->since <= oldest_of_peer->since))
      oldest_of_peer = o;
  }
  if (peer_live >= http->lim.max_per_peer) {
    if (!oldest_of_peer)
      return -1;
    if (oldest == oldest_of_peer)
      oldest = NULL;
    http->stats.evicted++;
    conn_close(oldest_of_peer);
  }
  if (http->n_live > http->lim.max_conns) {
    if (!oldest)
      return -1;
    http->stats.evicted++;
    conn_close(oldest);
  }
  return 0;
}

static void on_connection(uv_stream_t *server, int status) {
  sr_http_t *http = server->data;
  if (status < 0)
    return;
  conn_t *c = conn_new(http);
  if (!c) {
    http->stats.refused++;
    http_reject(http);
    return;
  }
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  conn_peer(c);
  if (make_room(http, c) != 0) {
    http->stats.refused++;
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_timer_start(&c->timer, on_timeout, http->lim.idle_ms, 0);
  conn_read_start(c);
}

/* Splits "HOST:PORT" (IPv6 hosts in brackets) into a socket address. */
static int parse_listen(const char *addr, struct sockaddr_storage *ss,
                        char *errstr, size_t len) {
  const char *colon = strrchr(addr, ':');
  char host[64];
  char *end;
  if (!colon || colon == addr || !colon[1])
    goto bad;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535 || colon[1] == '-' || colon[1] == '+')
    goto bad;
  size_t n = (size_t)(colon - addr);
  int v6 = addr[0] == '[' && colon[-1] == ']';
  if (v6)
    addr++, n -= 2;
  if (n == 0 || n >= sizeof(host))
    goto bad;
  memcpy(host, addr, n);
  host[n] = '\0';
  if (v6 ? uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss)
         : uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss))
    goto bad;
  return 0;
bad:
  sr_errf(errstr, len, SR_ERR_INVALID,
          "metrics.listen: expected HOST:PORT with a numeric host "
          "(127.0.0.1:9464, [::1]:9464), got \"%s\"",
          addr);
  return -1;
}

/* Binds and listens on a plain socket first, so that the usual failures
 * (address in use, permission) leave no libuv handle to close. */
static int bind_listen(const char *addr, char *errstr, size_t len) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  if (parse_listen(addr, &ss, errstr, len) != 0)
    return -1;
  socklen_t sslen = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                             : sizeof(struct sockaddr_in);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
      listen(fd, LISTEN_BACKLOG) != 0) {
    sr_errf(errstr, len, SR_ERR_IO, "metrics.listen %s: %s", addr,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  return fd;
}

static void on_listener_closed(uv_handle_t *handle) {
  sr_http_t *http = handle->data;
  http->listener_open = 0;
  http_maybe_finish(http);
}

sr_http_t *sr_http_new(uv_loop_t *loop, const char *addr,
                       sr_http_handler_cb *cb, void *opaque, char *errstr,
                       size_t len) {
  int fd = bind_listen(addr, errstr, len);
  if (fd < 0)
    return NULL;
  sr_http_t *http = calloc(1, sizeof(*http));
  if (!http || uv_tcp_init(loop, &http->listener) != 0) {
    sr_errf(errstr, len, SR_ERR_NOMEM, "metrics.listen: out of memory");
    free(http);
    close(fd);
    return NULL;
  }
  http->loop = loop;
  http->cb = cb;
  http->opaque = opaque;
  http->lim = (sr_http_limits_t){.max_conns = SR_HTTP_MAX_CONNS,
                                 .max_per_peer = SR_HTTP_MAX_PER_PEER,
                                 .idle_ms = SR_HTTP_IDLE_MS};
  http->listener_open = 1;
  http->listener.data = http;
  http_parser_set_max_header_size(SR_HTTP_MAX_HEAD);
  int rc = uv_tcp_open(&http->listener, fd);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&http->listener, LISTEN_BACKLOG,
                   on_connection);
  if (rc != 0) {
    sr_errf(errstr, len, SR_ERR_IO, "metrics.listen %s: %s", addr,
            uv_strerror(rc));
    if (uv_fileno((uv_handle_t *)&http->listener, &(uv_os_fd_t){0}) != 0)
      close(fd);
    sr_http_close(http, NULL, NULL);
    return NULL;
  }
  return http;
}

int sr_http_port(const sr_http_t *http) {
  struct sockaddr_storage ss;
  int sslen = sizeof(ss);
  if (uv_tcp_getsockname(&http->listener, (struct sockaddr *)&ss, &sslen))
    return -1;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

unsigned sr_http_conns(const sr_http_t *http) {
  return http->n_conns;
}

void sr_http_set_limits(sr_http_t *http, const sr_http_limits_t *lim) {
  if (lim->max_conns)
    http->lim.max_conns = lim->max_conns;
  if (lim->max_per_peer)
    http->lim.max_per_peer = lim->max_per_peer;
  if (lim->idle_ms)
    http->lim.idle_ms = lim->idle_ms;
}

sr_http_stats_t sr_http_stats(const sr_http_t *http) {
  sr_http_stats_t st = http->stats;
  st.open = http->n_live;
  return st;
}

void sr_http_close(sr_http_t *http, sr_http_done_cb *done, void *opaque) {
  http->closing = 1;
  http->done = done;
  http->done_opaque = opaque;
  uv_close((uv_handle_t *)&http->listener, on_listener_closed);
  for (conn_t *c = http->conns; c; c = c->next)
    conn_close(c);
}
