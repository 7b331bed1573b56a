/* Embedded broker: a librdkafka mock cluster plus, for a fixed port, a
 * poll(2) thread that relays TCP connections to the first mock broker. */
#include "kafka/embedded.h"

#include "streamrec/common.h"
#include "util/err.h"
#include "util/grow.h"
#include "util/now.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per direction; a Kafka request larger than this simply takes more rounds. */
#define RELAY_BUF 65536
/* Most blocks taken to move the mock cluster in memory (cluster_new). */
#define SHIFT_BLOCKS 4096

/* One accepted client connection and its connection to the broker. Index 0
 * is the client side, 1 the broker side; buf[d] holds bytes read from fd[d]
 * that still have to be written to fd[!d]. */
typedef struct relay {
  int fd[2];
  char buf[2][RELAY_BUF];
  size_t off[2];
  size_t len[2];
  bool eof[2];  /* fd[d] sent EOF */
  bool shut[2]; /* EOF of fd[d] passed on to fd[!d] */
} relay_t;

typedef struct forwarder {
  int listen_fd;
  int wake[2]; /* a byte on wake[1] tells the thread to stop */
  struct sockaddr_in upstream;
  pthread_t thread;
  bool running;
  relay_t **relays;
  size_t n_relays;
  size_t cap_relays;
} forwarder_t;

struct sr_embedded {
  rd_kafka_t *rk; /* hosts the mock cluster; never produces */
  rd_kafka_mock_cluster_t *mcluster;
  int n_brokers;
  char bootstraps[64]; /* the fixed-port address, when there is one */
  forwarder_t fwd;
};

static void set_nodelay(int fd) {
  int one = 1;
  /* Kafka is request/response: Nagle would add a delay to every request. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int set_nonblock(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void relay_free(relay_t *rel) {
  for (int d = 0; d < 2; d++) {
    if (rel->fd[d] >= 0)
      close(rel->fd[d]);
  }
  free(rel);
}

/* Connects to the broker with a blocking connect: it is on the loopback, so
 * it completes or fails at once. */
static int connect_upstream(const struct sockaddr_in *addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0 ||
      set_nonblock(fd) != 0) {
    close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

static int relays_push(forwarder_t *fwd, relay_t *rel) {
  if (SR_GROW(fwd->relays, fwd->cap_relays, fwd->n_relays + 1, 8) != 0)
    return -1;
  fwd->relays[fwd->n_relays++] = rel;
  return 0;
}

/* Accepts one client and pairs it with a new broker connection. A failure
 * drops only this client, which sees its connection closed and retries. */
static void accept_one(forwarder_t *fwd) {
  int cfd = accept(fwd->listen_fd, NULL, NULL);
  if (cfd < 0)
    return;
  relay_t *rel = calloc(1, sizeof(*rel));
  if (!rel) {
    close(cfd);
    return;
  }
  rel->fd[0] = cfd;
  rel->fd[1] = connect_upstream(&fwd->upstream);
  fcntl(cfd, F_SETFD, FD_CLOEXEC);
  if (rel->fd[1] < 0 || set_nonblock(cfd) != 0 || relays_push(fwd, rel) != 0) {
    relay_free(rel);
    return;
  }
  set_nodelay(cfd);
}

/* Writes what buf[d] holds to fd[!d]. Returns -1 when the peer is gone. */
static int relay_flush(relay_t *rel, int d) {
  while (rel->off[d] < rel->len[d]) {
    ssize_t n = send(rel->fd[!d], rel->buf[d] + rel->off[d],
                     rel->len[d] - rel->off[d], MSG_NOSIGNAL);
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    rel->off[d] += (size_t)n;
  }
  rel->off[d] = rel->len[d] = 0;
  if (rel->eof[d] && !rel->shut[d]) {
    shutdown(rel->fd[!d], SHUT_WR);
    rel->shut[d] = true;
  }
  return 0;
}

/* Reads from fd[d] into the empty buf[d] and passes it on at once. Returns
 * -1 on a connection error. */
static int relay_read(relay_t *rel, int d) {
  ssize_t n = recv(rel->fd[d], rel->buf[d], RELAY_BUF, 0);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  if (n == 0)
    rel->eof[d] = true;
  rel->len[d] = (size_t)n;
  return relay_flush(rel, d);
}

/* The poll events fd[d] waits for: input when its buffer is free, output
 * when the other direction has bytes for it. */
static short relay_events(const relay_t *rel, int d) {
  short ev = 0;
  if (!rel->eof[d] && rel->len[d] == 0)
    ev |= POLLIN;
  if (rel->len[!d] > rel->off[!d])
    ev |= POLLOUT;
  return ev;
}

/* Serves one relay after poll. Returns -1 when it is finished or failed. */
static int relay_service(relay_t *rel, const struct pollfd *pfd) {
  for (int d = 0; d < 2; d++) {
    short rev = pfd[d].fd >= 0 ? pfd[d].revents : 0;
    if (rev & (POLLERR | POLLNVAL))
      return -1;
    if ((rev & POLLOUT) && relay_flush(rel, !d) != 0)
      return -1;
    if (!(rev & (POLLIN | POLLHUP)))
      continue;
    /* A hang-up while bytes still wait for this side loses them: drop. */
    if (!(pfd[d].events & POLLIN) || relay_read(rel, d) != 0)
      return -1;
  }
  return rel->shut[0] && rel->shut[1] ? -1 : 0;
}

/* Fills pfds: the wake pipe, the listener, then two entries per relay. An
 * entry with nothing to wait for gets fd -1 so a hung-up socket does not
 * make poll spin. */
static void fill_pollfds(const forwarder_t *fwd, struct pollfd *pfds) {
  pfds[0] = (struct pollfd){.fd = fwd->wake[0], .events = POLLIN};
  pfds[1] = (struct pollfd){.fd = fwd->listen_fd, .events = POLLIN};
  for (size_t i = 0; i < fwd->n_relays; i++) {
    for (int d = 0; d < 2; d++) {
      struct pollfd *p = &pfds[2 + 2 * i + (size_t)d];
      p->events = relay_events(fwd->relays[i], d);
      p->fd = p->events ? fwd->relays[i]->fd[d] : -1;
      p->revents = 0;
    }
  }
}

/* Services the relays after poll, dropping finished ones. Walks backwards
 * so that moving the last relay into a freed slot skips nothing. */
static void service_relays(forwarder_t *fwd, const struct pollfd *pfds,
                           size_t n_polled) {
  for (size_t i = n_polled; i-- > 0;) {
    if (relay_service(fwd->relays[i], &pfds[2 + 2 * i]) == 0)
      continue;
    relay_free(fwd->relays[i]);
    fwd->relays[i] = fwd->relays[--fwd->n_relays];
  }
}

static void *forwarder_main(void *arg) {
  forwarder_t *fwd = arg;
  struct pollfd *pfds = NULL;
  size_t cap = 0;
  for (;;) {
    size_t need = 2 + 2 * fwd->n_relays;
    if (need > cap) {
      struct pollfd *grown = realloc(pfds, need * 2 * sizeof(*pfds));
      if (!grown)
        break;
      pfds = grown;
      cap = need * 2;
    }
    fill_pollfds(fwd, pfds);
    size_t n_polled = fwd->n_relays;
    if (poll(pfds, need, -1) < 0 && errno != EINTR)
      break;
    if (pfds[0].revents)
      break;
    service_relays(fwd, pfds, n_polled);
    if (pfds[1].revents & POLLIN)
      accept_one(fwd);
  }
  free(pfds);
  return NULL;
}

/* Returns the listening socket, or -1 with errstr. */
static int listen_on(int port, char *errstr, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    sr_errf(errstr, len, SR_ERR_IO, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 || set_nonblock(fd) != 0) {
    sr_errf(errstr, len, SR_ERR_IO, "listen on 127.0.0.1:%d: %s", port,
            strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* Parses the first "host:port" of the mock's bootstrap list. */
static int first_broker_addr(const char *bootstraps, struct sockaddr_in *addr) {
  const char *colon = strchr(bootstraps, ':');
  if (!colon)
    return -1;
  *addr = (struct sockaddr_in){.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)atoi(colon + 1)),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return 0;
}

/* On failure the caller's forwarder_stop releases what was set up. */
static sr_err_t forwarder_start(forwarder_t *fwd, int port,
                                const char *bootstraps, char *errstr,
                                size_t len) {
  if (first_broker_addr(bootstraps, &fwd->upstream) != 0)
    return sr_errf(errstr, len, SR_ERR_IO, "unexpected mock bootstraps '%s'",
                   bootstraps);
  fwd->listen_fd = listen_on(port, errstr, len);
  if (fwd->listen_fd < 0)
    return SR_ERR_IO;
  if (pipe(fwd->wake) != 0)
    return sr_errf(errstr, len, SR_ERR_IO, "pipe: %s", strerror(errno));
  int rc = pthread_create(&fwd->thread, NULL, forwarder_main, fwd);
  if (rc != 0)
    return sr_errf(errstr, len, SR_ERR_IO, "pthread_create: %s", strerror(rc));
  fwd->running = true;
  return SR_OK;
}

static void forwarder_stop(forwarder_t *fwd) {
  if (fwd->running) {
    char byte = 0;
    while (write(fwd->wake[1], &byte, 1) < 0 && errno == EINTR)
      ;
    pthread_join(fwd->thread, NULL);
    fwd->running = false;
  }
  for (size_t i = 0; i < fwd->n_relays; i++)
    relay_free(fwd->relays[i]);
  free(fwd->relays);
  fwd->relays = NULL;
  fwd->n_relays = fwd->cap_relays = 0;
  for (int i = 0; i < 2; i++) {
    if (fwd->wake[i] >= 0)
      close(fwd->wake[i]);
    fwd->wake[i] = -1;
  }
  if (fwd->listen_fd >= 0)
    close(fwd->listen_fd);
  fwd->listen_fd = -1;
}

/* True when bootstraps ("host:port,host:port,...") lists port. */
static bool lists_port(const char *bootstraps, int port) {
  for (const char *p = strchr(bootstraps, ':'); p; p = strchr(p + 1, ':')) {
    if (atoi(p + 1) == port)
      return true;
  }
  return false;
}

/* The mock brokers leave Nagle on, so each small response waits for the
 * client's delayed ACK of the previous one: 10 to 40 ms on the loopback.
 * On Linux an accepted socket inherits TCP_NODELAY from its listener, and
 * the mock's listeners are this process's own descriptors: they are found
 * by their ports. */
static void mock_nodelay(const char *bootstraps) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    int fd = atoi(de->d_name), listening = 0;
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr), llen = sizeof(listening);
    if (de->d_name[0] == '.' ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0 ||
        addr.sin_family != AF_INET ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) != 0 ||
        !listening || !lists_port(bootstraps, ntohs(addr.sin_port)))
      continue;
    set_nodelay(fd);
  }
  closedir(dir);
}

/* The host instance only owns the cluster; its log level hides the notice
 * that it has no bootstrap.servers of its own. */
static rd_kafka_t *host_new(char *errstr, size_t len) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "4", errstr, len) !=
      RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len);
  if (!rk)
    rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
  return rk;
}

/* The mock cluster takes its id from its own address, which an allocator
 * that lays memory out the same way in every process (the sanitizers')
 * repeats: two brokers in a row would pass for one cluster, and streamrec
 * tells a replaced cluster by its id. A random number of blocks of the
 * cluster's size, taken before the real one is made, moves it. */
static rd_kafka_mock_cluster_t *cluster_new(rd_kafka_t *rk, int n_brokers) {
  rd_kafka_mock_cluster_t *probe = rd_kafka_mock_cluster_new(rk, n_brokers);
  if (!probe)
    return NULL;
  size_t size = malloc_usable_size(probe);
  rd_kafka_mock_cluster_destroy(probe);
  unsigned seed = (unsigned)(sr_mono_ns() ^ ((uint64_t)getpid() << 16));
  size_t n = (size_t)(rand_r(&seed) % SHIFT_BLOCKS), kept = 0;
  void *blocks[SHIFT_BLOCKS];
  while (kept < n && (blocks[kept] = malloc(size)) != NULL)
    kept++;
  rd_kafka_mock_cluster_t *mcluster = rd_kafka_mock_cluster_new(rk, n_brokers);
  while (kept > 0)
    free(blocks[--kept]);
  return mcluster;
}

sr_embedded_t *sr_embedded_new(int n_brokers, int port, char *errstr,
                               size_t len) {
  if (n_brokers < 1 || n_brokers > 64 || port < 0 || port > 65535) {
    sr_errf(errstr, len, SR_ERR_INVALID,
            "brokers must be 1..64 and port 0..65535 (got %d, %d)", n_brokers,
            port);
    return NULL;
  }
  sr_embedded_t *emb = calloc(1, sizeof(*emb));
  if (!emb) {
    sr_errf(errstr, len, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  emb->n_brokers = n_brokers;
  emb->fwd.listen_fd = emb->fwd.wake[0] = emb->fwd.wake[1] = -1;
  emb->rk = host_new(errstr, len);
  if (!emb->rk)
    goto fail;
  emb->mcluster = cluster_new(emb->rk, n_brokers);
  if (!emb->mcluster) {
    sr_errf(errstr, len, SR_ERR_IO, "could not start the mock cluster");
    goto fail;
  }
  mock_nodelay(rd_kafka_mock_cluster_bootstraps(emb->mcluster));
  if (port > 0) {
    const char *mock = rd_kafka_mock_cluster_bootstraps(emb->mcluster);
    if (forwarder_start(&emb->fwd, port, mock, errstr, len) != 0)
      goto fail;
    snprintf(emb->bootstraps, sizeof(emb->bootstraps), "127.0.0.1:%d", port);
  }
  return emb;
fail:
  sr_embedded_free(emb);
  return NULL;
}

const char *sr_embedded_bootstraps(const sr_embedded_t *emb) {
  if (emb->bootstraps[0])
    return emb->bootstraps;
  return rd_kafka_mock_cluster_bootstraps(emb->mcluster);
}

sr_err_t sr_embedded_create_topic(sr_embedded_t *emb, const char *topic,
                                  int partitions, char *errstr, size_t len) {
  if (!topic[0] || partitions < 1)
    return sr_errf(errstr, len, SR_ERR_INVALID,
                   "topic '%s': need a name and at least 1 partition", topic);
  int replicas = emb->n_brokers < 3 ? emb->n_brokers : 3;
  rd_kafka_resp_err_t err =
      rd_kafka_mock_topic_create(emb->mcluster, topic, partitions, replicas);
  if (err)
    return sr_errf(errstr, len, SR_ERR_INVALID, "create topic '%s': %s", topic,
                   rd_kafka_err2str(err));
  return SR_OK;
}

void sr_embedded_free(sr_embedded_t *emb) {
  if (!emb)
    return;
  /* The relays go first so that no client is mid-request to a broker that
   * is being torn down. */
  forwarder_stop(&emb->fwd);
  if (emb->mcluster)
    rd_kafka_mock_cluster_destroy(emb->mcluster);
  if (emb->rk)
    rd_kafka_destroy(emb->rk);
  free(emb);
}
