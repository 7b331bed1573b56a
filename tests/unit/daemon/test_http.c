/* Tests of the HTTP server as a scraper or an attacker sees it: a server on
 * 127.0.0.1:0 runs in a libuv loop on the test's thread while a client
 * thread talks to it over plain sockets. The client only records what it
 * saw; the assertions run after the loop has exited and the thread has been
 * joined, which also checks that sr_http_close leaves nothing behind. */
#include "daemon/http.h"
#include "util/buf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_RESP 16
#define BIG_BODY (100 * 1024)
/* More than the server's send buffer (4 MiB at most) and a client's small
 * receive buffer hold, so that its write stays pending while the client
 * does not read. */
#define HUGE_BODY (16 * 1024 * 1024)
#define SMALL_RCVBUF 4096
#define CLIENT_BUF (256 * 1024)

/* One response as the client parsed it. */
typedef struct resp {
  int status;
  char head[1024];
  size_t body_len;
  char body[256];
} resp_t;

typedef struct fixture fixture_t;
typedef void client_fn(fixture_t *fx);

struct fixture {
  uv_loop_t loop;
  uv_async_t stop;
  sr_http_t *http;
  int port;
  sr_http_stats_t stats; /* taken just before the server is closed */
  int small_rcvbuf;      /* clients shrink their receive buffer */
  client_fn *client;
  int stop_sent;
  int closed;
  int handled; /* handler calls, counted on the loop thread */
  /* Written by the client thread, read after it is joined. */
  resp_t resp[MAX_RESP];
  int n_resp;
  int eof[MAX_RESP];
  int n_eof;
  int errors; /* failed connects, sends or reads */
};

/* Blocking client connection with a read buffer for pipelined replies. */
typedef struct client {
  int fd;
  char *buf;
  size_t len;
} client_t;

static void handler(void *opaque, const char *method, const char *path,
                    sr_http_response_t *res) {
  fixture_t *fx = opaque;
  fx->handled++;
  (void)method;
  if (strcmp(path, "/metrics") == 0) {
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    sr_buf_printf(&res->body, "up 1\n");
  } else if (strcmp(path, "/big") == 0 || strcmp(path, "/huge") == 0) {
    size_t len = path[1] == 'b' ? BIG_BODY : HUGE_BODY;
    sr_buf_reserve(&res->body, len);
    memset(res->body.data, 'x', len);
    res->body.len = len;
  } else {
    res->status = 404;
    sr_buf_printf(&res->body, "not found\n");
  }
}

/* Connects from the loopback address from (another peer than 127.0.0.1
 * when it is, say, 127.0.0.2). */
static int client_open_from(fixture_t *fx, client_t *cl, const char *from) {
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)fx->port)};
  struct sockaddr_in src = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  inet_pton(AF_INET, from, &src.sin_addr);
  struct timeval tv = {.tv_sec = 5};
  cl->len = 0;
  cl->buf = malloc(CLIENT_BUF);
  int rcvbuf = SMALL_RCVBUF;
  cl->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (!cl->buf || cl->fd < 0 ||
      setsockopt(cl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
      (fx->small_rcvbuf && setsockopt(cl->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                                      sizeof(rcvbuf)) != 0) ||
      bind(cl->fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
      connect(cl->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
    fx->errors++;
    return -1;
  }
  return 0;
}

static int client_open(fixture_t *fx, client_t *cl) {
  return client_open_from(fx, cl, "127.0.0.1");
}

static void client_close(client_t *cl) {
  if (cl->fd >= 0)
    close(cl->fd);
  free(cl->buf);
  cl->fd = -1;
  cl->buf = NULL;
}

static void client_send(fixture_t *fx, client_t *cl, const char *data,
                        size_t len) {
  while (len > 0) {
    ssize_t n = send(cl->fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) {
      fx->errors++;
      return;
    }
    data += n;
    len -= (size_t)n;
  }
}

static void client_sends(fixture_t *fx, client_t *cl, const char *text) {
  client_send(fx, cl, text, strlen(text));
}

/* Reads more bytes into the buffer: >0 read, 0 EOF, -1 error or timeout. */
static ssize_t client_fill(client_t *cl) {
  if (cl->len == CLIENT_BUF)
    return -1;
  ssize_t n = recv(cl->fd, cl->buf + cl->len, CLIENT_BUF - cl->len, 0);
  if (n > 0)
    cl->len += (size_t)n;
  return n;
}

static void client_consume(client_t *cl, size_t n) {
  memmove(cl->buf, cl->buf + n, cl->len - n);
  cl->len -= n;
}

static size_t content_length(const char *head) {
  for (const char *p = head; (p = strchr(p, '\n')); p++) {
    if (strncasecmp(p + 1, "content-length:", 15) == 0)
      return (size_t)strtoul(p + 16, NULL, 10);
  }
  return 0;
}

static char *find_head_end(client_t *cl) {
  for (size_t i = 0; i + 4 <= cl->len; i++) {
    if (memcmp(cl->buf + i, "\r\n\r\n", 4) == 0)
      return cl->buf + i + 4;
  }
  return NULL;
}

/* Reads one response (no body after HEAD) into the next result slot. */
static void client_read(fixture_t *fx, client_t *cl, int head_only) {
  resp_t *r = &fx->resp[fx->n_resp++];
  char *end;
  while (!(end = find_head_end(cl))) {
    if (client_fill(cl) <= 0) {
      fx->errors++;
      return;
    }
  }
  size_t head_len = (size_t)(end - cl->buf);
  snprintf(r->head, sizeof(r->head), "%.*s", (int)head_len, cl->buf);
  sscanf(r->head, "HTTP/1.1 %d", &r->status);
  r->body_len = head_only ? 0 : content_length(r->head);
  while (cl->len < head_len + r->body_len) {
    if (client_fill(cl) <= 0) {
      fx->errors++;
      return;
    }
  }
  snprintf(r->body, sizeof(r->body), "%.*s", (int)r->body_len, end);
  client_consume(cl, head_len + r->body_len);
}

/* Records whether the server closed the connection with nothing more. */
static void client_expect_eof(fixture_t *fx, client_t *cl) {
  ssize_t n = cl->len ? 1 : client_fill(cl);
  fx->eof[fx->n_eof++] = n == 0 || (n < 0 && errno == ECONNRESET);
}

static void request_stop(fixture_t *fx) {
  if (!fx->stop_sent) {
    fx->stop_sent = 1;
    uv_async_send(&fx->stop);
  }
}

static void *client_main(void *arg) {
  fixture_t *fx = arg;
  fx->client(fx);
  request_stop(fx);
  return NULL;
}

static void on_closed(void *opaque) {
  fixture_t *fx = opaque;
  fx->closed++;
}

static void on_stop(uv_async_t *async) {
  fixture_t *fx = async->data;
  fx->stats = sr_http_stats(fx->http);
  sr_http_close(fx->http, on_closed, fx);
  uv_close((uv_handle_t *)&fx->stop, NULL);
}

/* Serves with lim (NULL: the defaults) until the client is done, then
 * closes the server; the loop must then have nothing left to run. */
static void run(fixture_t *fx, client_fn *client, const sr_http_limits_t *lim) {
  char errstr[256] = "";
  memset(fx, 0, sizeof(*fx));
  fx->client = client;
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  fx->http = sr_http_new(&fx->loop, "127.0.0.1:0", handler, fx, errstr,
                         sizeof(errstr));
  assert_non_null(fx->http);
  if (lim)
    sr_http_set_limits(fx->http, lim);
  fx->port = sr_http_port(fx->http);
  assert_true(fx->port > 0);
  uv_async_init(&fx->loop, &fx->stop, on_stop);
  fx->stop.data = fx;
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, client_main, fx), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  pthread_join(thread, NULL);
  assert_int_equal(fx->closed, 1);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  assert_int_equal(fx->errors, 0);
}

static void client_get_head(fixture_t *fx) {
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "GET /metrics?name=x HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 1);
    client_sends(fx, &cl, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "GET /big HTTP/1.1\r\nConnection: close\r\n\r\n");
    client_read(fx, &cl, 0);
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
}

static void test_get_head_and_404(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_get_head, NULL);
  assert_int_equal(fx->n_resp, 5);
  assert_int_equal(fx->resp[0].status, 200);
  assert_string_equal(fx->resp[0].body, "up 1\n");
  assert_non_null(strstr(fx->resp[0].head, "Content-Type: text/plain; "
                                           "version=0.0.4; charset=utf-8\r\n"));
  assert_non_null(strstr(fx->resp[0].head, "Connection: keep-alive\r\n"));
  assert_int_equal(fx->resp[1].status, 200);
  assert_string_equal(fx->resp[1].body, "up 1\n");
  /* HEAD announces the GET body's length but sends none: the next
   * response starts right after its headers. */
  assert_int_equal(fx->resp[2].status, 200);
  assert_non_null(strstr(fx->resp[2].head, "Content-Length: 5\r\n"));
  assert_int_equal(fx->resp[3].status, 404);
  assert_int_equal(fx->resp[4].status, 200);
  assert_int_equal(fx->resp[4].body_len, BIG_BODY);
  assert_non_null(strstr(fx->resp[4].head, "Connection: close\r\n"));
  assert_true(fx->eof[0]);
  assert_int_equal(fx->handled, 5);
  free(fx);
}

static void client_methods(fixture_t *fx) {
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl,
                 "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\na=1");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "DELETE /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
    /* A refused method leaves the connection usable. */
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
  }
  client_close(&cl);
}

static void test_other_methods_get_405(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_methods, NULL);
  assert_int_equal(fx->n_resp, 3);
  assert_int_equal(fx->resp[0].status, 405);
  assert_non_null(strstr(fx->resp[0].head, "Allow: GET, HEAD\r\n"));
  assert_int_equal(fx->resp[1].status, 405);
  assert_int_equal(fx->resp[2].status, 200);
  assert_int_equal(fx->handled, 1);
  free(fx);
}

static void send_expect_close(fixture_t *fx, const char *data, size_t len) {
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_send(fx, &cl, data, len);
    client_read(fx, &cl, 0);
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
}

static void send_expect_close_text(fixture_t *fx, const char *text) {
  send_expect_close(fx, text, strlen(text));
}

static void client_bad_requests(fixture_t *fx) {
  static const char garbage[] = "\x01\x02\xff garbage\r\n\r\n";
  send_expect_close(fx, garbage, sizeof(garbage) - 1);
  send_expect_close_text(fx, "GET /metrics HTTP/1.1\r\nHost t\r\n\r\n");

  /* 20 KiB of one header: over the 8 KiB limit on the request head. */
  size_t big = 20 * 1024;
  char *req = malloc(big + 128);
  int n = snprintf(req, 128, "GET /metrics HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', big);
  memcpy(req + n + big, "\r\n\r\n", 4);
  send_expect_close(fx, req, (size_t)n + big + 4);

  /* A client still sending 16 MiB when refused gets its 413 rather than a
   * reset: the server reads on until the client is done. */
  size_t huge = 16 * 1024 * 1024;
  req = realloc(req, huge + 128);
  n = snprintf(req, 128, "GET /metrics HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', huge);
  memcpy(req + n + huge, "\r\n\r\n", 4);
  send_expect_close(fx, req, (size_t)n + huge + 4);

  /* A declared body over 8 KiB is refused before it is sent. */
  send_expect_close_text(fx, "GET / HTTP/1.1\r\nContent-Length: 20000\r\n\r\n");

  /* A chunked body is counted as it arrives. */
  n = snprintf(req, 128,
               "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
               "\r\n2800\r\n");
  memset(req + n, 'b', 0x2800);
  send_expect_close(fx, req, (size_t)n + 0x2800);
  free(req);

  /* The server still answers afterwards. */
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
  }
  client_close(&cl);
}

static void test_bad_requests_get_400_413(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_bad_requests, NULL);
  assert_int_equal(fx->n_resp, 7);
  assert_int_equal(fx->resp[0].status, 400);
  assert_non_null(strstr(fx->resp[0].head, "Connection: close\r\n"));
  assert_int_equal(fx->resp[1].status, 400);
  for (int i = 2; i < 6; i++)
    assert_int_equal(fx->resp[i].status, 413);
  assert_int_equal(fx->n_eof, 6);
  for (int i = 0; i < 6; i++)
    assert_true(fx->eof[i]);
  assert_int_equal(fx->resp[6].status, 200);
  assert_string_equal(fx->resp[6].body, "up 1\n");
  assert_int_equal(fx->handled, 1);
  free(fx);
}

static void client_keep_alive(fixture_t *fx) {
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    client_read(fx, &cl, 0);
    /* Pipelined: three requests in one segment, answered in order. */
    client_sends(fx, &cl,
                 "GET /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n"
                 "HEAD /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
    client_read(fx, &cl, 0);
    client_read(fx, &cl, 1);
  }
  client_close(&cl);
  /* HTTP/1.0 closes unless it asks for keep-alive. */
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl,
                 "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "GET /metrics HTTP/1.0\r\n\r\n");
    client_read(fx, &cl, 0);
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
}

static void test_keep_alive(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_keep_alive, NULL);
  assert_int_equal(fx->n_resp, 7);
  int want[] = {200, 200, 200, 404, 200, 200, 200};
  for (int i = 0; i < 7; i++)
    assert_int_equal(fx->resp[i].status, want[i]);
  assert_string_equal(fx->resp[4].body, "");
  assert_non_null(strstr(fx->resp[5].head, "Connection: keep-alive\r\n"));
  assert_non_null(strstr(fx->resp[6].head, "Connection: close\r\n"));
  assert_true(fx->eof[0]);
  free(fx);
}

static void client_idle(fixture_t *fx) {
  client_t cl;
  if (client_open(fx, &cl) == 0)
    client_expect_eof(fx, &cl);
  client_close(&cl);
  /* A request that never completes is cut off too. */
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metr");
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
  /* The timeout restarts after each response. */
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
  /* Slowloris: bytes that keep coming but never finish the request do not
   * keep the connection open past the timeout. */
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\n");
    for (int i = 0; i < 20; i++) {
      usleep(30000);
      if (send(cl.fd, "X", 1, MSG_NOSIGNAL) <= 0)
        break;
    }
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
}

static void test_idle_connections_closed(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_idle, &(sr_http_limits_t){.idle_ms = 200});
  assert_int_equal(fx->n_eof, 4);
  for (int i = 0; i < 4; i++)
    assert_true(fx->eof[i]);
  assert_int_equal(fx->n_resp, 1);
  assert_int_equal(fx->resp[0].status, 200);
  assert_int_equal(fx->stats.timed_out, 4);
  assert_int_equal(fx->stats.evicted, 0);
  free(fx);
}

/* Sends one GET /metrics on an open connection and reads the answer. */
static void client_get(fixture_t *fx, client_t *cl) {
  client_sends(fx, cl, "GET /metrics HTTP/1.1\r\n\r\n");
  client_read(fx, cl, 0);
}

#define MANY_IDLE 300

static void client_many_idle(fixture_t *fx) {
  static client_t cl[MANY_IDLE];
  for (int i = 0; i < MANY_IDLE; i++)
    client_open(fx, &cl[i]);
  client_t probe;
  if (client_open(fx, &probe) == 0)
    client_get(fx, &probe);
  client_close(&probe);
  for (int i = 0; i < MANY_IDLE; i++)
    client_close(&cl[i]);
}

/* The failure seen in production: hundreds of idle connections, and the
 * probe behind them must still be answered at the default limits. */
static void test_probe_served_past_many_idle(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_many_idle, NULL);
  assert_int_equal(fx->n_resp, 1);
  assert_int_equal(fx->resp[0].status, 200);
  /* One peer holds at most SR_HTTP_MAX_PER_PEER connections. */
  assert_int_equal(fx->stats.evicted, MANY_IDLE + 1 - SR_HTTP_MAX_PER_PEER);
  assert_int_equal(fx->stats.refused, 0);
  free(fx);
}

#define FULL 8

static void client_full(fixture_t *fx) {
  client_t cl[FULL], extra;
  for (int i = 0; i < FULL; i++)
    client_open(fx, &cl[i]);
  /* cl[0] becomes the most recently active, so cl[1] is the least. */
  usleep(20000);
  client_get(fx, &cl[0]);
  if (client_open(fx, &extra) == 0)
    client_get(fx, &extra);
  client_expect_eof(fx, &cl[1]);
  client_get(fx, &cl[0]);
  client_get(fx, &cl[2]);
  client_get(fx, &cl[FULL - 1]);
  client_close(&extra);
  for (int i = 0; i < FULL; i++)
    client_close(&cl[i]);
}

static void test_full_server_evicts_least_recent_idle(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_full,
      &(sr_http_limits_t){.max_conns = FULL, .max_per_peer = FULL});
  assert_int_equal(fx->n_resp, 5);
  for (int i = 0; i < 5; i++)
    assert_int_equal(fx->resp[i].status, 200);
  assert_int_equal(fx->n_eof, 1);
  assert_true(fx->eof[0]);
  assert_int_equal(fx->stats.evicted, 1);
  assert_int_equal(fx->stats.refused, 0);
  free(fx);
}

#define FLOOD 10

static void client_peer_flood(fixture_t *fx) {
  client_t a[2], b[FLOOD];
  client_open(fx, &a[0]);
  client_open(fx, &a[1]);
  for (int i = 0; i < FLOOD; i++)
    client_open_from(fx, &b[i], "127.0.0.2");
  /* The flooding peer pushed out only its own oldest connections. */
  client_get(fx, &a[0]);
  client_get(fx, &a[1]);
  client_expect_eof(fx, &b[0]);
  client_expect_eof(fx, &b[FLOOD - 5]);
  client_get(fx, &b[FLOOD - 4]);
  client_get(fx, &b[FLOOD - 1]);
  for (int i = 0; i < 2; i++)
    client_close(&a[i]);
  for (int i = 0; i < FLOOD; i++)
    client_close(&b[i]);
}

static void test_peer_limit_evicts_own_connections(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_peer_flood,
      &(sr_http_limits_t){.max_conns = 8, .max_per_peer = 4});
  assert_int_equal(fx->n_resp, 4);
  for (int i = 0; i < 4; i++)
    assert_int_equal(fx->resp[i].status, 200);
  assert_int_equal(fx->n_eof, 2);
  assert_true(fx->eof[0] && fx->eof[1]);
  assert_int_equal(fx->stats.evicted, FLOOD - 4);
  free(fx);
}

static void client_all_busy(fixture_t *fx) {
  client_t cl[3];
  /* Two clients take a response they do not read, which keeps both
   * connections busy writing; a third finds no room. */
  fx->small_rcvbuf = 1;
  for (int i = 0; i < 2; i++) {
    if (client_open(fx, &cl[i]) == 0) {
      client_sends(fx, &cl[i], "GET /huge HTTP/1.1\r\n\r\n");
      if (client_fill(&cl[i]) <= 0)
        fx->errors++;
    }
  }
  if (client_open(fx, &cl[2]) == 0)
    client_expect_eof(fx, &cl[2]);
  for (int i = 0; i < 3; i++)
    client_close(&cl[i]);
}

static void test_refused_when_all_busy(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_all_busy,
      &(sr_http_limits_t){.max_conns = 2, .max_per_peer = 2});
  assert_int_equal(fx->n_eof, 1);
  assert_true(fx->eof[0]);
  assert_int_equal(fx->stats.refused, 1);
  assert_int_equal(fx->stats.evicted, 0);
  free(fx);
}

static void client_close_while_open(fixture_t *fx) {
  client_t cl;
  if (client_open(fx, &cl) == 0) {
    client_sends(fx, &cl, "GET /metrics HTTP/1.1\r\n\r\n");
    client_read(fx, &cl, 0);
    client_sends(fx, &cl, "GET /met");
    /* The server closes with this connection open and a request half
     * read; the connection ends and the loop exits. */
    request_stop(fx);
    client_expect_eof(fx, &cl);
  }
  client_close(&cl);
}

static void test_close_with_open_connection(void **state) {
  (void)state;
  fixture_t *fx = malloc(sizeof(*fx));
  run(fx, client_close_while_open, NULL);
  assert_int_equal(fx->resp[0].status, 200);
  assert_true(fx->eof[0]);
  free(fx);
}

static void test_listen_errors(void **state) {
  (void)state;
  uv_loop_t loop;
  char errstr[256];
  assert_int_equal(uv_loop_init(&loop), 0);
  const char *bad[] = {"off",
                       "127.0.0.1",
                       ":9464",
                       "127.0.0.1:",
                       "127.0.0.1:70000",
                       "127.0.0.1:-1",
                       "localhost:9464",
                       "[::1:9464"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    errstr[0] = '\0';
    assert_null(
        sr_http_new(&loop, bad[i], handler, NULL, errstr, sizeof(errstr)));
    assert_non_null(strstr(errstr, "HOST:PORT"));
  }
  /* A port in use is reported at once, with no handle left open. */
  sr_http_t *http =
      sr_http_new(&loop, "127.0.0.1:0", handler, NULL, errstr, sizeof(errstr));
  assert_non_null(http);
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", sr_http_port(http));
  assert_null(sr_http_new(&loop, addr, handler, NULL, errstr, sizeof(errstr)));
  assert_non_null(strstr(errstr, "in use"));
  sr_http_close(http, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get_head_and_404),
      cmocka_unit_test(test_other_methods_get_405),
      cmocka_unit_test(test_bad_requests_get_400_413),
      cmocka_unit_test(test_keep_alive),
      cmocka_unit_test(test_idle_connections_closed),
      cmocka_unit_test(test_probe_served_past_many_idle),
      cmocka_unit_test(test_full_server_evicts_least_recent_idle),
      cmocka_unit_test(test_peer_limit_evicts_own_connections),
      cmocka_unit_test(test_refused_when_all_busy),
      cmocka_unit_test(test_close_with_open_connection),
      cmocka_unit_test(test_listen_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
