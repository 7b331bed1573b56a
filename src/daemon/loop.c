/* The daemon's event loop; see loop.h.
 *
 * Phases: RUNNING consumes and learns. A stop (signal, --until end reached,
 * fatal error) moves to DRAINING: consumption stops, every waiting user is
 * refreshed and the producer's queue drains (bounded unless --until end).
 * SAVING writes the final checkpoint, COMMITTING commits its offsets
 * (bounded), CLOSING closes every handle so uv_run returns. */
#define SR_LOG_COMPONENT "daemon"
#include "daemon/loop.h"

#include "codec/reason.h"
#include "core/share.h"
#include "daemon/catalogue.h"
#include "daemon/http.h"
#include "daemon/ingest.h"
#include "daemon/owner.h"
#include "daemon/refresh.h"
#include "daemon/restore.h"
#include "daemon/retrieval.h"
#include "daemon/saver.h"
#include "daemon/sync.h"
#include "daemon/telemetry.h"
#include "kafka/client.h"
#include "kafka/embedded.h"
#include "kafka/sink.h"
#include "kafka/topics.h"
#include "store/model_store.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/now.h"
#include "util/offset.h"

#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Messages taken per wake-up before timers and signals get a turn. */
#define CONSUME_BUDGET 2048
/* Period of the housekeeping tick: progress line, backpressure, retries. */
#define TICK_MS 250
/* How long a signalled stop waits for the producer, and any stop for the
 * final commit, before giving up on them. */
#define DRAIN_WAIT_MS 10000
#define COMMIT_WAIT_MS 5000
/* How long a checkpoint waits for the output of the events it covers
 * before it is put off to the next interval. */
#define QUIESCE_WAIT_MS 5000
/* How long after a put-off periodic checkpoints do not wait again (one
 * that finds the output settled is written at once). */
#define QUIESCE_BACKOFF_MS 30000
/* Pause between failed end-offset queries (--until end). */
#define ENDS_RETRY_MS 1000
/* Period of the progress log line when stderr is not a terminal. */
#define STATS_LOG_MS 30000
/* Period of giving freed heap memory back to the system (see trim_heap). */
#define TRIM_MS 10000
/* A batch of item deltas is cut at about this size, well under the
 * brokers' default message.max.bytes (1 MB). */
#define SYNC_BATCH_BYTES (500 * 1024)
/* State records installed per wake-up while partitions are restored. */
#define RESTORE_BUDGET 4096
/* Batches of the sync topic applied per wake-up. */
#define SYNC_BUDGET 64
/* Item messages applied per wake-up. */
#define ITEMS_BUDGET 4096
/* How long start-up waits to read the items topic to its end. */
#define ITEMS_LOAD_MS 60000
/* How long the start-up check of the sync topic waits for the brokers. */
#define TOPICS_TIMEOUT_MS 5000

/* What the daemon does with a signal whose default action would end it
 * without a final checkpoint. docs/operations.md has the same table. */
typedef enum sig_action {
  ON_STOP,       /* graceful stop: drain, final checkpoint, commit */
  ON_STOP_FAIL,  /* the same, exiting 1 so that a supervisor restarts us */
  ON_CHECKPOINT, /* write a checkpoint now */
  ON_LOG_ONLY,   /* logged and otherwise ignored */
} sig_action_t;

typedef struct sig_entry {
  int signum;
  const char *name;
  sig_action_t action;
  /* Taken over only when its disposition is the default at start: a
   * nohup'ed SIGHUP stays ignored, a profiler keeps its SIGPROF. */
  bool only_if_default;
} sig_entry_t;

/* SIGPIPE and SIGXFSZ are ignored outright (see sr_cmd_run): a closed
 * socket or a file size limit is an error on the write that hit it. SIGQUIT
 * keeps its default, a core dump for debugging; the fault signals keep
 * theirs. */
static const sig_entry_t signal_table[] = {
    {SIGTERM, "SIGTERM", ON_STOP, false},
    {SIGINT, "SIGINT", ON_STOP, false},
    {SIGUSR1, "SIGUSR1", ON_CHECKPOINT, false},
    /* There is no configuration to reload; a hangup (the terminal closed)
     * or a reload request ends the run as cleanly as SIGTERM. */
    {SIGHUP, "SIGHUP", ON_STOP, true},
    /* The soft CPU limit warns before the hard one kills. */
    {SIGXCPU, "SIGXCPU", ON_STOP_FAIL, true},
    {SIGPWR, "SIGPWR", ON_STOP, true},
    {SIGUSR2, "SIGUSR2", ON_LOG_ONLY, true},
    {SIGALRM, "SIGALRM", ON_LOG_ONLY, true},
    {SIGVTALRM, "SIGVTALRM", ON_LOG_ONLY, true},
    {SIGPROF, "SIGPROF", ON_LOG_ONLY, true},
    {SIGIO, "SIGIO", ON_LOG_ONLY, true},
};
#define N_SIGNALS (sizeof(signal_table) / sizeof(signal_table[0]))

typedef enum phase {
  P_RUNNING,
  P_DRAINING,
  P_SAVING,
  P_COMMITTING,
  P_CLOSING
} phase_t;

/* The commit opaque that marks the final checkpoint's commit. */
static char final_commit_tag;

struct sr_daemon {
  sr_config_t cfg;
  sr_run_opts_t opts;
  uv_loop_t loop;
  bool loop_ready;
  bool handles_ready;
  uv_poll_t src_poll, snk_poll, sync_poll, owner_poll, items_poll;
  uv_idle_t drain_idle, sync_idle, owner_idle, items_idle;
  uv_timer_t refresh_timer, ckpt_timer, tick_timer, deadline_timer, sync_timer,
      retrieval_timer;
  uv_prepare_t stall_prepare;
  uv_signal_t sigs[N_SIGNALS];
  sr_embedded_t *emb;
  char brokers[SR_CONF_STR];
  sr_model_t *mdl;
  sr_refresh_t *rf;
  sr_retrieval_t *rtv;
  sr_sink_t *snk;
  sr_src_t *src;
  sr_ingest_t *ing;
  sr_saver_t *sv;
  sr_telemetry_t *tel;
  sr_http_t *http;
  sr_sync_t *sync;     /* cluster mode only */
  sr_owner_t *owner;   /* cluster mode with a state topic only */
  sr_catalogue_t *cat; /* with kafka.items_topic only */
  bool loading_items;  /* in the items topic's start-up load */
  /* sr_telemetry_lists_recorded when the checkpoint in flight started, and
   * as of the last one written. */
  uint64_t lists_saving, lists_saved;
  uint64_t restart_refreshes; /* lists owed for takedowns seen at start-up
                                or by a partition taken over */
  char input_topic[SR_TOPIC_MAX + 1]; /* cluster mode: the one input topic */
  char member_id[SR_SYNC_MEMBER_MAX + 1];
  phase_t phase;
  int exit_code;
  bool halted;         /* ingest could not apply an event */
  bool ckpt_requested; /* SIGUSR1 while a checkpoint was in flight */
  int quiescing;       /* a checkpoint kind + 1 waiting for output; 0 none */
  uint64_t quiesce_retry_ms; /* after a put-off: no periodic wait before */
  bool final_started;
  bool ends_busy, ends_again; /* --until end: end-offset query state */
  bool times_busy;            /* --from TIMESTAMP lookup in flight */
  uint64_t ends_retry_at;
  /* --until end: a count that moves with any progress, and when it last
   * moved (loop ms). */
  uint64_t until_work, until_moved_ms;
  uint64_t published;
  bool subscribed;
  /* Health, in sr_mono_ns() milliseconds. */
  uint64_t beat_ms, ckpt_fresh_ms;
  /* Loop stall: the previous iteration's start and idle total (ns). */
  uint64_t iter_ns, idle_ns;
  /* Progress. */
  uint64_t prog_events, prog_ms, last_stats_ms, trim_ms;
  double rate;
};

/* A query that blocks on Kafka, run in the thread pool: end offsets for
 * --until end, or start offsets for --from TIMESTAMP. */
typedef struct query_job {
  uv_work_t req;
  sr_daemon_t *d;
  sr_offset_t *parts;
  size_t n;
  sr_err_t err;
  char errstr[256];
} query_job_t;

static void begin_stop(sr_daemon_t *d, int code, const char *why, bool bounded);
static void start_final(sr_daemon_t *d);
static void close_all(sr_daemon_t *d);

static sr_err_t check_config(const sr_daemon_t *d, char *errstr,
                             size_t errlen) {
  if (sr_config_check(&d->cfg, !d->opts.no_publish, errstr, errlen) != SR_OK)
    return SR_ERR_INVALID;
  if (!d->cfg.kafka.input_topics[strspn(d->cfg.kafka.input_topics, " ,")])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.input_topics: no topic named");
  if (!d->cfg.kafka.group_id[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.group_id: must not be empty");
  if (!d->opts.no_publish && !d->cfg.kafka.output_topic[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.output_topic: must not be empty (or use "
                   "--no-publish)");
  if (!d->cfg.kafka.brokers[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "kafka.brokers: must not be empty ('embedded' starts "
                   "the in-process broker)");
  /* kafka.properties.* are checked before anything starts, the embedded
   * broker included. */
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  rd_kafka_conf_t *probe =
      sr_kafka_conf_new(&kc, "localhost:9092", errstr, errlen);
  if (!probe)
    return SR_ERR_INVALID;
  rd_kafka_conf_destroy(probe);
  return SR_OK;
}

/* The topics cluster mode needs besides the input and output: the sync
 * topic (on the embedded broker one partition is enough: every instance
 * reads all of it) and the state topic, partitioned like the input and
 * compacted. Returns the count written to want (at most 2). */
static size_t cluster_topics(const sr_daemon_t *d, sr_topic_want_t *want,
                             bool embedded) {
  size_t n = 0;
  want[n++] = (sr_topic_want_t){d->cfg.cluster.sync_topic, embedded ? 1 : 0,
                                NULL, SR_TOPIC_POLICY_DELETE};
  if (d->cfg.cluster.state_topic[0])
    want[n++] = (sr_topic_want_t){d->cfg.cluster.state_topic, 0, d->input_topic,
                                  SR_TOPIC_POLICY_COMPACT};
  return n;
}

static int create_topic(sr_daemon_t *d, const char *name, size_t len,
                        char *errstr, size_t errlen) {
  char topic[SR_TOPIC_MAX + 1];
  snprintf(topic, sizeof(topic), "%.*s", (int)len, name);
  char why[256];
  /* Two options naming the same topic are fine: it exists already. */
  if (sr_embedded_create_topic(d->emb, topic, (int)d->cfg.kafka.partitions, why,
                               sizeof(why)) != SR_OK &&
      !strstr(why, "exist")) {
    sr_errf(errstr, errlen, SR_ERR_IO, "embedded broker: %s", why);
    return -1;
  }
  return 0;
}

/* Starts the mock cluster and creates every topic the daemon uses, so that
 * they get kafka.partitions partitions rather than the mock's default. */
static sr_err_t start_embedded(sr_daemon_t *d, char *errstr, size_t errlen) {
  d->emb = sr_embedded_new(1, 0, errstr, errlen);
  if (!d->emb)
    return SR_ERR_IO;
  for (const char *p = d->cfg.kafka.input_topics; *p;) {
    p += strspn(p, " ,");
    size_t len = strcspn(p, ", ");
    if (len && create_topic(d, p, len, errstr, errlen) != 0)
      return SR_ERR_IO;
    p += len;
  }
  const char *others[] = {d->opts.no_publish ? "" : d->cfg.kafka.output_topic,
                          d->cfg.kafka.dead_letter_topic,
                          d->cfg.kafka.items_topic};
  for (size_t i = 0; i < 3; i++) {
    if (others[i][0] &&
        create_topic(d, others[i], strlen(others[i]), errstr, errlen) != 0)
      return SR_ERR_IO;
  }
  if (sr_config_clustered(&d->cfg)) {
    sr_topic_want_t want[2];
    sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
    sr_err_t err = sr_topics_create_embedded(d->emb, &kc, want,
                                             cluster_topics(d, want, true),
                                             TOPICS_TIMEOUT_MS, errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  snprintf(d->brokers, sizeof(d->brokers), "%s",
           sr_embedded_bootstraps(d->emb));
  printf("embedded Kafka at %s\n", d->brokers);
  fflush(stdout);
  return SR_OK;
}

/* The topics a real cluster must have as wanted before the start: the
 * cluster's, and the items topic, compacted, since a topic that deletes
 * old records would lose every item not sent again within its retention,
 * and with it the item's takedown. Returns the count written to want (at
 * most 3). */
static size_t checked_topics(const sr_daemon_t *d, sr_topic_want_t *want) {
  size_t n = sr_config_clustered(&d->cfg) ? cluster_topics(d, want, false) : 0;
  if (d->cfg.kafka.items_topic[0])
    want[n++] = (sr_topic_want_t){d->cfg.kafka.items_topic, 0, NULL,
                                  SR_TOPIC_POLICY_COMPACT};
  return n;
}

/* These topics must exist before anyone produces to them: a broker that
 * creates topics on first use would give them defaults they were never
 * meant to have, and one that does not would leave the records nowhere. A
 * compacted sync topic would drop all but the last batch of each member; a
 * state topic that is not compacted grows without end, and one partitioned
 * unlike the input puts users where nobody looks. */
static sr_err_t check_own_topics(sr_daemon_t *d, char *errstr, size_t errlen) {
  sr_topic_want_t want[3];
  size_t n = checked_topics(d, want);
  if (!n)
    return SR_OK;
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  sr_topics_report_t rep = {0};
  sr_err_t err =
      sr_topics_check(&kc, d->brokers, want, n, TOPICS_TIMEOUT_MS, &rep);
  for (char *w = (char *)rep.warnings.data; w && *w;) {
    char *nl = strchr(w, '\n');
    if (nl)
      *nl = '\0'; /* one check, one line */
    sr_log(SR_LOG_WARN, "topic check incomplete", "detail=%s", sr_logq(w));
    w = nl ? nl + 1 : w + strlen(w);
  }
  if (err == SR_ERR_IO)
    sr_errf(errstr, errlen, SR_ERR_IO, "checking the topics: %s",
            rep.n_errors ? (const char *)rep.errors.data : "no answer");
  else if (err != SR_OK)
    sr_errf(errstr, errlen, SR_ERR_INVALID, "topics: %s",
            rep.n_errors ? (const char *)rep.errors.data : sr_err_str(err));
  sr_topics_report_free(&rep);
  return err == SR_ERR_INVALID || err == SR_OK ? err : SR_ERR_IO;
}

static int on_message(void *opaque, const rd_kafka_message_t *msg) {
  sr_daemon_t *d = opaque;
  if (sr_ingest_message(d->ing, msg) == 0)
    return 0;
  d->halted = true;
  return -1;
}

static void start_ends_query(sr_daemon_t *d);

static void on_assign(void *opaque) {
  sr_daemon_t *d = opaque;
  if (d->opts.until_end)
    start_ends_query(d);
}

static void on_commit(void *opaque, sr_err_t err, const char *why,
                      void *commit_opaque) {
  sr_daemon_t *d = opaque;
  if (err != SR_OK)
    sr_log(SR_LOG_WARN, "offset commit failed", "error=%s", sr_logq(why));
  else
    sr_log(SR_LOG_DEBUG, "offsets committed", NULL);
  if (commit_opaque == &final_commit_tag && d->phase == P_COMMITTING) {
    if (err == SR_OK)
      sr_log(SR_LOG_INFO, "final offsets committed", "group=%s",
             sr_logq(d->cfg.kafka.group_id));
    close_all(d);
  }
}

static void run_refresh(sr_daemon_t *d, bool force);

static void on_delivery_failed(void *opaque, uint32_t user_row) {
  sr_daemon_t *d = opaque;
  if (d->rf)
    sr_refresh_retry(d->rf, user_row, uv_now(&d->loop));
}

static void on_delivered(void *opaque, uint32_t user_row) {
  sr_daemon_t *d = opaque;
  sr_telemetry_delivered(d->tel, user_row);
}

static void on_fatal(void *opaque, const char *why) {
  sr_daemon_t *d = opaque;
  sr_log(SR_LOG_ERROR, "producer failed for good; stopping", "error=%s",
         sr_logq(why));
  begin_stop(d, 1, "fatal producer error", true);
}

static void on_saved(void *opaque, const sr_saver_result_t *res);
static void on_deadline(uv_timer_t *t);

static void on_halt(void *opaque, const char *why) {
  begin_stop(opaque, 1, why, true);
}

/* Another instance owns the partition's users now (docs/scaling.md, "Who
 * owns what"): they leave this model, and its next checkpoint. */
static void on_revoke(void *opaque, const char *topic, int32_t partition) {
  sr_daemon_t *d = opaque;
  if (d->owner) {
    sr_owner_revoked(d->owner, partition);
    return;
  }
  if (!d->sync)
    return;
  uint32_t n = sr_share_drop_partition(d->mdl, partition);
  sr_log(SR_LOG_INFO, "users of a revoked partition dropped",
         "topic=%s partition=%" PRId32 " users=%" PRIu32, sr_logq(topic),
         partition, n);
}

/* A partition assigned is taken over before it is consumed: from local
 * state or from the state topic (daemon/owner). */
static void on_assign_part(void *opaque, const char *topic, int32_t partition) {
  sr_daemon_t *d = opaque;
  (void)topic;
  if (d->owner)
    sr_owner_assigned(d->owner, partition);
}

static void on_record(void *opaque, rd_kafka_resp_err_t err, uint32_t tag,
                      size_t len) {
  sr_daemon_t *d = opaque;
  if (d->owner && sr_owner_is_record(tag))
    sr_owner_delivered(d->owner, err, tag, len);
  else if (d->sync)
    sr_sync_delivered(d->sync, err, tag, len);
}

/* The checkpoint's entries of the input, for the source: the sync topic's
 * and the member id's belong to the sync. Returns the count kept in
 * place. */
static size_t input_offsets(const sr_daemon_t *d, sr_offset_t *offs, size_t n) {
  if (!sr_config_clustered(&d->cfg))
    return n;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (!sr_sync_owns_offset(d->cfg.cluster.sync_topic, &offs[i]))
      offs[k++] = offs[i];
  return k;
}

/* The member id comes first: the checkpoint keeps a random one, so that a
 * restarted instance recognises its own batches on the sync topic. */
static sr_err_t create_sync(sr_daemon_t *d, const sr_restored_t *rs,
                            char *errstr, size_t errlen) {
  if (!sr_config_clustered(&d->cfg))
    return SR_OK;
  if (sr_sync_member_id(d->cfg.cluster.instance_id, rs->offsets, rs->n_offsets,
                        d->member_id, sizeof(d->member_id)))
    sr_log(SR_LOG_INFO, "new member id; kept in the checkpoint", "member=%s",
           sr_logq(d->member_id));
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  sr_sync_conf_t conf = {
      .topic = d->cfg.cluster.sync_topic,
      .member_id = d->member_id,
      .enc = d->cfg.cluster.delta_encoding == SR_SYNC_F32 ? SR_DELTA_F32
                                                          : SR_DELTA_F16,
      .batch_bytes = SYNC_BATCH_BYTES,
      .offsets = rs->offsets,
      .n_offsets = rs->n_offsets,
  };
  d->sync = sr_sync_new(&conf, &kc, d->brokers, d->mdl, d->snk, errstr, errlen);
  if (!d->sync)
    return SR_ERR_IO;
  return sr_telemetry_enable_cluster(d->tel) == 0
             ? SR_OK
             : sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
}

static void refresh_holder(void *opaque, uint32_t user_row) {
  sr_daemon_t *d = opaque;
  sr_refresh_retry(d->rf, user_row, uv_now(&d->loop));
}

/* An item taken down: the users whose last list held it get a new one
 * within recommend.batch_ms, like users with a new event. During the
 * start-up load, before lists can be refreshed, the item is noted instead
 * (refresh_noted): a single instance's restored lists still show what it
 * published before it stopped, and an item taken down since (after the
 * checkpoint, or while it was down) is in some of them. In cluster mode
 * the users' partitions are not known to be this instance's yet, so
 * nothing is noted: each partition taken over from the state topic looks
 * for the items down then instead (on_taken). */
static int note_down(sr_daemon_t *d, const char *id, size_t len) {
  if (sr_telemetry_note_down(d->tel, id, len) == 0)
    return 0;
  sr_log(SR_LOG_WARN,
         "out of memory noting a takedown; its holders keep "
         "their lists until their next event",
         "item=%.*s", (int)len, id);
  return -1;
}

static size_t on_item_down(void *opaque, const char *id, size_t len) {
  sr_daemon_t *d = opaque;
  if (d->loading_items && d->rf == NULL && !d->opts.no_publish &&
      !sr_config_clustered(&d->cfg)) {
    note_down(d, id, len);
    return 0;
  }
  if (!d->rf)
    return 0;
  return sr_telemetry_holders(d->tel, id, len, refresh_holder, d);
}

/* The users whose restored last list holds an item the start-up load took
 * down get a new list once the loop runs: their list on the output topic
 * is older than the takedown. */
static void refresh_noted(sr_daemon_t *d) {
  if (!d->rf)
    return;
  size_t n = sr_telemetry_noted_holders(d->tel, refresh_holder, d);
  d->restart_refreshes += n;
  if (n)
    sr_log(SR_LOG_INFO,
           "lists holding items taken down since they were published: "
           "refreshing",
           "users=%zu", n);
}

/* Partition p's users are this instance's now, with the lists published
 * for them last: by their previous owner (from the state topic) or by this
 * instance before it stopped (from its checkpoint). Those lists may hold
 * items taken down since (while the partition had no owner, or while this
 * instance was stopped): the users whose list holds an item down now get a
 * new one. Every list is looked at, the others' hold no such item;
 * takeovers are rare. */
static void schedule_refresh(sr_daemon_t *d);

static void on_taken(void *opaque, int32_t p) {
  sr_daemon_t *d = opaque;
  (void)p;
  if (!d->cat)
    return;
  const uint32_t *down = sr_model_unavailable_rows(d->mdl);
  for (uint32_t k = 0; k < sr_model_unavailable_items(d->mdl); k++) {
    size_t len;
    const char *id = sr_model_item_id(d->mdl, down[k], &len);
    if (id && note_down(d, id, len) != 0)
      return;
  }
  refresh_noted(d);
  schedule_refresh(d);
}

/* The items topic is read to its end before the input is consumed, so the
 * first lists already leave out the items taken down. */
static sr_err_t create_catalogue(sr_daemon_t *d, char *errstr, size_t errlen) {
  if (!d->cfg.kafka.items_topic[0])
    return SR_OK;
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  sr_catalogue_conf_t conf = {.topic = d->cfg.kafka.items_topic,
                              .dead_letter_topic =
                                  d->cfg.kafka.dead_letter_topic,
                              .embedding_dims = d->cfg.items.embedding_dims,
                              .on_down = on_item_down,
                              .opaque = d};
  d->cat =
      sr_catalogue_new(&conf, &kc, d->brokers, &d->mdl, d->snk, errstr, errlen);
  if (!d->cat)
    return SR_ERR_IO;
  if (sr_telemetry_enable_catalogue(d->tel) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  d->loading_items = true;
  sr_err_t err = sr_catalogue_load(d->cat, ITEMS_LOAD_MS, errstr, errlen);
  d->loading_items = false;
  return err;
}

/* Cluster mode with a state topic: users move with their partitions. */
static sr_err_t create_owner(sr_daemon_t *d, const sr_restored_t *rs,
                             char *errstr, size_t errlen) {
  if (!sr_config_clustered(&d->cfg))
    return SR_OK;
  if (!d->cfg.cluster.state_topic[0]) {
    sr_log(SR_LOG_WARN,
           "no cluster.state_topic: a partition that moves to another "
           "instance loses its users' state",
           NULL);
    return SR_OK;
  }
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  sr_owner_conf_t conf = {.state_topic = d->cfg.cluster.state_topic,
                          .input_topic = d->input_topic,
                          .offsets = rs->offsets,
                          .n_offsets = rs->n_offsets,
                          .on_halt = on_halt,
                          .on_taken = on_taken,
                          .opaque = d,
                          /* Lists matter to takedowns only. */
                          .tel = d->cat ? d->tel : NULL};
  d->owner = sr_owner_new(&d->loop, &conf, &kc, d->brokers, &d->mdl, d->src,
                          d->snk, errstr, errlen);
  return d->owner ? SR_OK : SR_ERR_IO;
}

static sr_err_t create_clients(sr_daemon_t *d, sr_restored_t *rs, char *errstr,
                               size_t errlen) {
  /* The clients borrow d->cfg's strings: it outlives them. */
  sr_kafka_conf_t kc = sr_config_kafka(&d->cfg);
  bool clustered = sr_config_clustered(&d->cfg);
  if (!d->opts.no_publish || d->cfg.kafka.dead_letter_topic[0] || clustered) {
    sr_sink_hooks_t hooks = {.on_failed = on_delivery_failed,
                             .on_fatal = on_fatal,
                             .on_delivered = on_delivered,
                             .on_record = on_record,
                             .opaque = d};
    d->snk = sr_sink_new(&kc, d->brokers, &hooks, errstr, errlen);
    if (!d->snk)
      return SR_ERR_INVALID;
  }
  sr_err_t err = create_sync(d, rs, errstr, errlen);
  if (err == SR_OK)
    err = create_catalogue(d, errstr, errlen);
  if (err != SR_OK)
    return err;
  sr_source_conf_t sc = {
      .kafka = kc,
      .brokers = d->brokers,
      .from = d->opts.from,
      .from_ts_ms = d->opts.from_ts_ms,
      .until_end = d->opts.until_end,
      .embedded = d->emb != NULL,
      .offsets = rs->offsets,
      .n_offsets = input_offsets(d, rs->offsets, rs->n_offsets),
      .cluster_id = rs->cluster_id,
      .reset_fails = d->cfg.kafka.offset_reset_policy == SR_RESET_FAIL,
      .cooperative = clustered,
      .instance_id = d->cfg.cluster.instance_id};
  sr_source_hooks_t hooks = {.on_message = on_message,
                             .on_assign = on_assign,
                             .on_commit = on_commit,
                             .opaque = d,
                             .on_halt = on_halt,
                             .on_revoke = on_revoke,
                             .on_assign_part = on_assign_part};
  d->src = sr_source_new(&sc, &hooks, errstr, errlen);
  if (!d->src)
    return SR_ERR_INVALID;
  return create_owner(d, rs, errstr, errlen);
}

/* The saver's section: runs in the forked writer, on its copy of d. */
static int save_lists(void *opaque, sr_buf_t *out) {
  const sr_daemon_t *d = opaque;
  return sr_telemetry_save_lists(d->tel, out);
}

static sr_err_t create_parts(sr_daemon_t *d, uint64_t next_seq, char *errstr,
                             size_t errlen) {
  if (!d->opts.no_publish) {
    sr_refresh_conf_t rc = {.n = d->cfg.recommend.n,
                            .batch_ms = d->cfg.recommend.batch_ms,
                            .batch_max = d->cfg.recommend.batch_max,
                            .min_interval_ms = d->cfg.recommend.min_interval_ms,
                            .json =
                                d->cfg.kafka.output_format == SR_OUTPUT_JSON};
    if (!(d->rf = sr_refresh_new(&rc)))
      return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  }
  if (!(d->rtv = sr_retrieval_new(&d->loop, d->mdl, &d->cfg)))
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  d->ing = sr_ingest_new(&d->cfg, d->mdl, d->rf, d->snk, errstr, errlen);
  if (!d->ing)
    return SR_ERR_INVALID;
  d->sv = sr_saver_new(&d->loop, d->cfg.checkpoint.dir, d->cfg.checkpoint.keep,
                       next_seq, d->cfg.checkpoint.writer == SR_CKPT_FORK,
                       on_saved, d);
  if (!d->sv)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  /* The last lists matter to takedowns only: without an items topic the
   * checkpoint does not carry them. */
  if (d->cat)
    sr_saver_set_section(d->sv, SR_STORE_SEC_LISTS, save_lists, d);
  return SR_OK;
}

static uint64_t mono_ms(void) {
  return sr_mono_ns() / 1000000;
}

static void owner_totals(const sr_daemon_t *d, sr_telemetry_totals_t *tot) {
  sr_owner_stats_t os = sr_owner_stats(d->owner);
  tot->topics[1] = d->cfg.cluster.state_topic;
  tot->bytes_sent[1] = os.bytes_sent;
  tot->bytes_read[1] = os.restore_bytes;
  tot->restoring = os.pending;
  tot->taken_local = os.kept_parts;
  tot->taken_state = os.restored_parts;
  tot->restored_users = os.restored_users;
  tot->restore_seconds = os.restore_seconds;
  tot->state_records_sent = os.records_sent;
  tot->state_records_failed = os.records_failed;
}

static void retrieval_totals(const sr_daemon_t *d, sr_telemetry_totals_t *tot) {
  sr_retrieval_stats_t rs = sr_retrieval_stats(d->rtv);
  sr_model_ann_stats_t as;
  sr_model_ann_stats(d->mdl, &as);
  tot->ann = rs.ann;
  tot->ann_builds = rs.builds;
  tot->ann_age_s = rs.age_s;
  tot->ann_bytes = rs.bytes;
  tot->ann_recall = rs.recall;
  tot->ann_lists = as.lists;
  tot->ann_candidates = as.candidates;
  tot->ann_scanned = as.scanned;
  tot->ann_fallbacks = as.fallbacks;
}

static void serve_metrics(sr_daemon_t *d, sr_http_response_t *res) {
  sr_telemetry_totals_t tot = {0};
  for (int r = 1; r < SR_REASON__COUNT; r++)
    tot.rejected[r] = sr_ingest_rejected(d->ing, (sr_reason_t)r);
  if (d->snk) {
    sr_sink_stats_t ss = sr_sink_stats(d->snk);
    tot.lists_delivered = ss.delivered;
    tot.publish_errors = ss.failed;
    tot.dead_letters = ss.dead_letters;
    tot.dead_letters_failed = ss.dead_failed;
  }
  tot.http = sr_http_stats(d->http);
  if (d->sync) {
    sr_sync_stats_t ys = sr_sync_stats(d->sync);
    sr_share_stats_t hs = sr_share_stats(d->mdl);
    tot.skipped = hs.skipped;
    tot.misrouted = hs.misrouted;
    tot.sync_deltas_sent = ys.deltas_sent;
    tot.sync_deltas_applied = ys.deltas_applied;
    tot.sync_batches_sent = ys.batches_sent;
    tot.sync_lag = ys.lag;
    tot.topics[0] = d->cfg.cluster.sync_topic;
    tot.bytes_sent[0] = ys.bytes_sent;
    tot.bytes_read[0] = ys.bytes_read;
  }
  if (d->owner)
    owner_totals(d, &tot);
  if (d->cat) {
    sr_catalogue_stats_t cs = sr_catalogue_stats(d->cat);
    for (int r = 1; r < SR_REASON__COUNT; r++)
      tot.rejected[r] += cs.rejected[r];
    tot.items_applied = cs.applied;
    tot.items_unavailable = sr_model_unavailable_items(d->mdl);
    tot.takedown_refreshes = cs.takedown_refreshes + d->restart_refreshes;
  }
  retrieval_totals(d, &tot);
  sr_telemetry_metrics(d->tel, &tot, d->src, res);
}

static sr_health_t health(const sr_daemon_t *d) {
  sr_health_t h = {
      .now_ms = mono_ms(),
      .beat_ms = d->beat_ms,
      .consuming = d->phase == P_RUNNING && d->subscribed,
      .assigned = sr_source_assigned(d->src),
      .brokers_down = sr_source_brokers_down(d->src),
      .ckpt_max_age_ms =
          (uint64_t)(3 * d->cfg.checkpoint.interval_s * 1000.0 + 0.5),
      .ckpt_fresh_ms = d->ckpt_fresh_ms,
      .index_building = d->rtv && !sr_retrieval_ready(d->rtv),
  };
  if (d->owner) {
    sr_owner_stats_t os = sr_owner_stats(d->owner);
    h.n_restoring = sr_owner_pending(
        d->owner, h.restoring, sizeof(h.restoring) / sizeof(h.restoring[0]));
    h.restore_records = os.restore_records;
    h.restored_users = os.restored_users;
  }
  return h;
}

/* Runs on the loop thread, so a wedged loop answers nothing at all and a
 * late heartbeat is seen as such. */
static void on_http(void *opaque, const char *method, const char *path,
                    sr_http_response_t *res) {
  (void)method;
  sr_daemon_t *d = opaque;
  if (!strcmp(path, "/metrics")) {
    serve_metrics(d, res);
  } else if (!strcmp(path, "/healthz") || !strcmp(path, "/readyz")) {
    sr_health_t h = health(d);
    sr_telemetry_health(&h, path[1] == 'r', res);
  } else {
    res->status = 404;
    sr_buf_printf(&res->body, "not found; try /metrics, /healthz, /readyz\n");
  }
}

/* Binding comes first, so that a taken port fails the start before any
 * Kafka client exists. */
static sr_err_t start_telemetry(sr_daemon_t *d, char *errstr, size_t errlen) {
  d->tel = sr_telemetry_new(d->mdl, d->cfg.recommend.n);
  if (!d->tel)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  if (!strcmp(d->cfg.metrics.listen, "off"))
    return SR_OK;
  char why[256];
  d->http = sr_http_new(&d->loop, d->cfg.metrics.listen, on_http, d, why,
                        sizeof(why));
  if (!d->http)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s (choose a free HOST:PORT or 'off')", why);
  sr_http_set_limits(
      d->http,
      &(sr_http_limits_t){.max_conns = d->cfg.metrics.max_clients,
                          .max_per_peer = d->cfg.metrics.max_clients_per_peer,
                          .idle_ms = d->cfg.metrics.idle_timeout_ms});
  sr_log(SR_LOG_INFO, "serving metrics", "listen=%s port=%d",
         sr_logq(d->cfg.metrics.listen), sr_http_port(d->http));
  return SR_OK;
}

static void on_listed(void *opaque, uint32_t user_row, const sr_scored_t *items,
                      size_t n) {
  sr_daemon_t *d = opaque;
  sr_telemetry_listed(d->tel, user_row, items, n);
  /* The user's state carries its list to the next owner: a list without
   * an event (a takedown's refresh) is owed to the state topic too. */
  if (d->owner && d->cat)
    sr_share_touch_user(d->mdl, user_row);
}

/* Lists of the first chunks of a flush are often delivered while the last
 * ones are scored: their reports are served at once, not after the flush. */
static void on_chunk_done(void *opaque) {
  sr_daemon_t *d = opaque;
  if (d->snk)
    sr_sink_poll(d->snk);
}

/* The checkpoint's record of last lists, before the items topic's load
 * looks for holders in it. A malformed one costs takedown refreshes, not
 * the start. */
static void restore_lists(sr_daemon_t *d, const sr_restored_t *rs) {
  if (!rs->lists)
    return;
  char why[256];
  int64_t n = sr_telemetry_load_lists(d->tel, rs->lists, rs->lists_len, why,
                                      sizeof(why));
  if (n < 0)
    sr_log(SR_LOG_WARN,
           "checkpoint's last lists unreadable; takedowns refresh only lists "
           "published from now on",
           "error=%s", sr_logq(why));
  else
    sr_log(SR_LOG_INFO, "last published lists restored", "users=%" PRId64, n);
}

static sr_err_t daemon_init(sr_daemon_t *d, char *errstr, size_t errlen) {
  sr_restored_t rs = {0};
  sr_err_t err = check_config(d, errstr, errlen);
  if (err == SR_OK)
    err = sr_restore_load(&d->cfg, &rs, errstr, errlen);
  d->mdl = rs.mdl;
  rs.mdl = NULL; /* now owned by the daemon */
  if (err == SR_OK && uv_loop_init(&d->loop) != 0)
    err = sr_errf(errstr, errlen, SR_ERR_IO, "uv_loop_init failed");
  d->loop_ready = err == SR_OK;
  /* Idle time lets the stall histogram subtract the time spent waiting. */
  if (err == SR_OK)
    uv_loop_configure(&d->loop, UV_METRICS_IDLE_TIME);
  if (err == SR_OK)
    err = start_telemetry(d, errstr, errlen);
  if (err == SR_OK)
    restore_lists(d, &rs);
  if (err == SR_OK && !strcmp(d->cfg.kafka.brokers, "embedded"))
    err = start_embedded(d, errstr, errlen);
  else if (err == SR_OK)
    snprintf(d->brokers, sizeof(d->brokers), "%s", d->cfg.kafka.brokers);
  if (err == SR_OK && !d->emb)
    err = check_own_topics(d, errstr, errlen);
  if (err == SR_OK)
    err = create_clients(d, &rs, errstr, errlen);
  if (err == SR_OK)
    err = create_parts(d, rs.next_seq, errstr, errlen);
  if (err == SR_OK) {
    sr_ingest_set_telemetry(d->ing, d->tel);
    if (d->rf) {
      sr_refresh_set_listed(d->rf, on_listed, d);
      sr_refresh_set_chunk_done(d->rf, on_chunk_done, d);
    }
    refresh_noted(d);
  }
  sr_restore_release(&rs);
  return err;
}

sr_daemon_t *sr_daemon_new(const sr_config_t *cfg, const sr_run_opts_t *opts,
                           sr_err_t *err, char *errstr, size_t errlen) {
  sr_daemon_t *d = calloc(1, sizeof(*d));
  if (!d) {
    *err = sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  d->cfg = *cfg;
  d->cfg.model.shared = sr_config_clustered(cfg) ? 1 : 0;
  const char *in =
      cfg->kafka.input_topics + strspn(cfg->kafka.input_topics, " ,");
  snprintf(d->input_topic, sizeof(d->input_topic), "%.*s",
           (int)strcspn(in, ", "), in);
  d->opts = *opts;
  sr_log_set_level(cfg->log.level);
  sr_log_set_format(cfg->log.format);
  *err = daemon_init(d, errstr, errlen);
  if (*err != SR_OK) {
    sr_daemon_free(d);
    return NULL;
  }
  return d;
}

static int publish(void *opaque, uint32_t user_row, const char *key,
                   size_t key_len, const void *payload, size_t len) {
  sr_daemon_t *d = opaque;
  return sr_sink_publish(d->snk, d->cfg.kafka.output_topic, key, key_len,
                         payload, len, user_row) == SR_OK
             ? 0
             : -1;
}

static void run_refresh(sr_daemon_t *d, bool force) {
  size_t n = 0;
  if (sr_refresh_flush(d->rf, d->mdl, uv_now(&d->loop), sr_now_ms(), force,
                       publish, d, &n) != SR_OK)
    sr_log(SR_LOG_WARN, "out of memory refreshing lists; retrying later", NULL);
  d->published += n;
}

static void on_refresh_timer(uv_timer_t *t);

/* Flushes what is due and arms the timer for what comes due next. */
static void schedule_refresh(sr_daemon_t *d) {
  if (!d->rf || d->phase != P_RUNNING)
    return;
  int64_t delay = sr_refresh_next_delay(d->rf, uv_now(&d->loop));
  if (delay == 0) {
    run_refresh(d, false);
    delay = sr_refresh_next_delay(d->rf, uv_now(&d->loop));
  }
  if (delay < 0)
    uv_timer_stop(&d->refresh_timer);
  else
    uv_timer_start(&d->refresh_timer, on_refresh_timer,
                   (uint64_t)(delay ? delay : 1), 0);
}

static void on_refresh_timer(uv_timer_t *t) {
  schedule_refresh(t->data);
}

/* A slow output side pauses the input, so memory stays bounded. */
static void check_backpressure(sr_daemon_t *d) {
  if (!d->snk || d->phase != P_RUNNING)
    return;
  size_t outq = sr_sink_outq(d->snk), high = d->cfg.kafka.queue_high;
  if (!sr_source_paused(d->src) && outq > high) {
    sr_log(SR_LOG_INFO, "output queue above kafka.queue_high; pausing input",
           "queued=%zu", outq);
    sr_source_pause(d->src, true);
  } else if (sr_source_paused(d->src) && outq < high / 2) {
    sr_log(SR_LOG_INFO, "output queue drained; resuming input", "queued=%zu",
           outq);
    sr_source_pause(d->src, false);
  }
}

static void check_until(sr_daemon_t *d) {
  if (d->opts.until_end && d->phase == P_RUNNING && sr_source_at_ends(d->src))
    begin_stop(d, 0, "end offsets reached", false);
}

/* Messages taken and output delivered: with --until end, a run whose
 * count stops moving for kafka.until_timeout_s is not getting anywhere
 * (no broker, no assignment, an end that cannot be reached). */
static uint64_t work_done(const sr_daemon_t *d) {
  sr_source_stats_t cs = sr_source_stats(d->src);
  uint64_t n = cs.messages + cs.duplicates + cs.resets;
  if (d->snk) {
    sr_sink_stats_t ss = sr_sink_stats(d->snk);
    n += ss.delivered + ss.failed + ss.dead_letters + ss.dead_failed;
  }
  return n;
}

static void check_until_progress(sr_daemon_t *d) {
  uint64_t now = uv_now(&d->loop), work = work_done(d);
  if (!d->opts.until_end || d->phase != P_RUNNING)
    return;
  if (work != d->until_work || !d->until_moved_ms) {
    d->until_work = work;
    d->until_moved_ms = now;
    return;
  }
  uint64_t limit = (uint64_t)d->cfg.kafka.until_timeout_s * 1000;
  if (!limit || now - d->until_moved_ms < limit)
    return;
  int64_t lag = sr_source_lag(d->src);
  sr_log(SR_LOG_ERROR,
         "--until end made no progress for kafka.until_timeout_s; giving up",
         "timeout_s=%" PRIu32 " assigned=%zu lag=%" PRId64 " brokers_down=%s",
         d->cfg.kafka.until_timeout_s, sr_source_assigned(d->src), lag,
         sr_source_brokers_down(d->src) ? "true" : "false");
  begin_stop(d, 1, "no progress towards the end offsets", true);
}

static void after_input(sr_daemon_t *d) {
  if (d->halted && d->phase == P_RUNNING) {
    begin_stop(d, 1, "an event could not be applied", true);
    return;
  }
  schedule_refresh(d);
  check_backpressure(d);
  check_until(d);
}

static void on_drain_idle(uv_idle_t *h);
static void on_sync_idle(uv_idle_t *h);

static void consume_step(sr_daemon_t *d) {
  bool more = false;
  uv_update_time(&d->loop);
  sr_ingest_set_time(d->ing, sr_now_ms(), uv_now(&d->loop));
  sr_source_consume(d->src, CONSUME_BUDGET, &more);
  /* The pipe is written only when the queue turns non-empty, so a backlog
   * is worked off from the idle handle, between other events. */
  if (more && d->phase == P_RUNNING && !d->halted)
    uv_idle_start(&d->drain_idle, on_drain_idle);
  else
    uv_idle_stop(&d->drain_idle);
  after_input(d);
}

static void on_src_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sr_daemon_t *d = h->data;
  if (d->phase == P_RUNNING && !d->quiescing)
    consume_step(d);
  else
    sr_source_serve_commits(d->src);
}

static void on_drain_idle(uv_idle_t *h) {
  sr_daemon_t *d = h->data;
  if (d->phase == P_RUNNING && !d->quiescing)
    consume_step(d);
  else
    uv_idle_stop(h);
}

static void sync_step(sr_daemon_t *d) {
  bool more = false;
  sr_sync_consume(d->sync, SYNC_BUDGET, &more);
  if (more && d->phase != P_CLOSING)
    uv_idle_start(&d->sync_idle, on_sync_idle);
  else
    uv_idle_stop(&d->sync_idle);
}

static void on_sync_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sr_daemon_t *d = h->data;
  if (d->phase != P_CLOSING)
    sync_step(d);
}

static void on_sync_idle(uv_idle_t *h) {
  sync_step(h->data);
}

static void on_items_idle(uv_idle_t *h);

/* Item messages, a budget at a time; a takedown marks users for refresh,
 * so the batcher is scheduled after. */
static void items_step(sr_daemon_t *d) {
  bool more = false;
  sr_catalogue_consume(d->cat, ITEMS_BUDGET, &more);
  if (more && d->phase != P_CLOSING)
    uv_idle_start(&d->items_idle, on_items_idle);
  else
    uv_idle_stop(&d->items_idle);
  schedule_refresh(d);
}

static void on_items_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sr_daemon_t *d = h->data;
  if (d->phase != P_CLOSING)
    items_step(d);
}

static void on_items_idle(uv_idle_t *h) {
  items_step(h->data);
}

static void on_owner_idle(uv_idle_t *h);

/* State records of the partitions being taken over, a budget at a time. */
static void owner_step(sr_daemon_t *d) {
  bool more = false;
  sr_owner_serve(d->owner, RESTORE_BUDGET, &more);
  if (more && d->phase != P_CLOSING)
    uv_idle_start(&d->owner_idle, on_owner_idle);
  else
    uv_idle_stop(&d->owner_idle);
}

static void on_owner_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sr_daemon_t *d = h->data;
  if (d->phase != P_CLOSING)
    owner_step(d);
}

static void on_owner_idle(uv_idle_t *h) {
  owner_step(h->data);
}

/* A checkpoint waiting for its output must not see new deltas taken: the
 * snapshot's bases would run ahead of what was delivered. */
static void on_sync_timer(uv_timer_t *t) {
  sr_daemon_t *d = t->data;
  if (d->phase == P_RUNNING && !d->quiescing)
    sr_sync_publish(d->sync);
}

static void ends_work(uv_work_t *req) {
  query_job_t *job = req->data;
  job->err = sr_source_query_ends(job->d->src, job->parts, job->n, job->errstr,
                                  sizeof(job->errstr));
}

static void ends_done(uv_work_t *req, int status) {
  query_job_t *job = req->data;
  sr_daemon_t *d = job->d;
  d->ends_busy = false;
  if (status == 0)
    sr_source_set_ends(d->src, job->parts, job->n);
  if (status != 0 || job->err != SR_OK) {
    sr_log(SR_LOG_WARN, "end offsets unknown; retrying", "error=%s",
           sr_logq(status ? uv_strerror(status) : job->errstr));
    d->ends_retry_at = uv_now(&d->loop) + ENDS_RETRY_MS;
  }
  free(job->parts);
  free(job);
  if (d->ends_again && d->phase == P_RUNNING) {
    d->ends_again = false;
    start_ends_query(d);
  }
  check_until(d);
}

/* rd_kafka_query_watermark_offsets blocks on the network, so it runs in
 * the thread pool; one query at a time. */
static void start_ends_query(sr_daemon_t *d) {
  if (d->ends_busy) {
    d->ends_again = true;
    return;
  }
  sr_offset_t *parts;
  ssize_t n = sr_source_untargeted(d->src, &parts);
  if (n <= 0)
    return;
  query_job_t *job = calloc(1, sizeof(*job));
  if (!job) {
    free(parts);
    return;
  }
  *job = (query_job_t){.d = d, .parts = parts, .n = (size_t)n};
  job->req.data = job;
  if (uv_queue_work(&d->loop, &job->req, ends_work, ends_done) != 0) {
    free(parts);
    free(job);
    return;
  }
  d->ends_busy = true;
  d->ends_retry_at = 0;
}

static void subscribe(sr_daemon_t *d) {
  char errstr[256];
  if (sr_source_subscribe(d->src, errstr, sizeof(errstr)) != SR_OK) {
    sr_log(SR_LOG_ERROR, "subscribe failed", "error=%s", sr_logq(errstr));
    begin_stop(d, 1, "subscribe failed", true);
    return;
  }
  d->subscribed = true;
  sr_log(SR_LOG_INFO, "consuming", "topics=%s group=%s brokers=%s",
         sr_logq(d->cfg.kafka.input_topics), sr_logq(d->cfg.kafka.group_id),
         sr_logq(d->brokers));
}

static void times_work(uv_work_t *req) {
  query_job_t *job = req->data;
  job->err = sr_source_lookup_times(job->d->src, &job->parts, &job->n,
                                    job->errstr, sizeof(job->errstr));
}

static void times_done(uv_work_t *req, int status) {
  query_job_t *job = req->data;
  sr_daemon_t *d = job->d;
  d->times_busy = false;
  if (status == 0 && job->err == SR_OK &&
      sr_source_set_starts(d->src, job->parts, job->n) == SR_OK)
    sr_log(SR_LOG_INFO, "start offsets found for --from",
           "time_ms=%" PRId64 " partitions=%zu", d->opts.from_ts_ms, job->n);
  else
    sr_log(SR_LOG_WARN,
           "no offsets for --from time; those partitions start earliest",
           "error=%s", sr_logq(status ? uv_strerror(status) : job->errstr));
  free(job->parts);
  free(job);
  if (d->phase == P_RUNNING)
    subscribe(d);
}

/* offsetsForTimes blocks too: the subscription waits for its answer. */
static void start_consuming(sr_daemon_t *d) {
  if (d->opts.from != SR_FROM_TIMESTAMP) {
    subscribe(d);
    return;
  }
  query_job_t *job = calloc(1, sizeof(*job));
  if (job) {
    job->d = d;
    job->req.data = job;
    if (uv_queue_work(&d->loop, &job->req, times_work, times_done) == 0) {
      d->times_busy = true;
      return;
    }
    free(job);
  }
  sr_log(SR_LOG_WARN, "could not look up --from time; starting earliest", NULL);
  subscribe(d);
}

/* Why a checkpoint is taken. Whatever the kind, one that would hold
 * nothing new is skipped; the requested and final ones say so. */
typedef enum ckpt_kind { CK_PERIODIC, CK_REQUESTED, CK_FINAL } ckpt_kind_t;

/* A warning that names what output is still owed. */
static void warn_undelivered(const sr_daemon_t *d, const char *msg) {
  sr_log(SR_LOG_WARN, msg, "in_flight=%" PRIu64 " waiting_users=%zu",
         d->snk ? sr_sink_in_flight(d->snk) : 0,
         d->rf ? sr_refresh_pending(d->rf) : 0);
}

/* True when the output of every applied event is out: no user waits for a
 * list, no list or dead letter waits for its delivery report. */
static bool drained(sr_daemon_t *d) {
  return (!d->snk || sr_sink_in_flight(d->snk) == 0) &&
         (!d->rf || sr_refresh_pending(d->rf) == 0);
}

/* Stops consuming until the checkpoint of the given kind may go, bounded
 * by QUIESCE_WAIT_MS. */
static void hold(sr_daemon_t *d, ckpt_kind_t kind) {
  if (d->quiescing)
    return;
  d->quiescing = (int)kind + 1;
  uv_idle_stop(&d->drain_idle);
  uv_timer_start(&d->deadline_timer, on_deadline, QUIESCE_WAIT_MS, 0);
}

static void end_quiesce(sr_daemon_t *d) {
  d->quiescing = 0;
  uv_timer_stop(&d->deadline_timer);
  if (d->phase == P_RUNNING)
    uv_idle_start(&d->drain_idle, on_drain_idle); /* consume again */
}

/* A checkpoint's offsets promise that the output of every event below them
 * is out, so that a restart from it owes no user a list and no rejected
 * message its dead letter. Before the snapshot, consumption stops, every
 * waiting user is refreshed (recommend.min_interval_ms notwithstanding)
 * and the deliveries are awaited; a checkpoint whose output does not
 * settle within QUIESCE_WAIT_MS is put off to the next interval. Returns
 * true when the snapshot may be taken now. */
static bool quiesce(sr_daemon_t *d, ckpt_kind_t kind) {
  if (drained(d))
    return true;
  /* Output that could not settle last time (a broker down) would stall the
   * input at every interval: periodic ones wait again only later. */
  if (kind == CK_PERIODIC && uv_now(&d->loop) < d->quiesce_retry_ms)
    return false;
  hold(d, kind);
  if (d->rf)
    run_refresh(d, true);
  return false;
}

/* No final checkpoint: the last one written is still consistent, and the
 * next start replays the events after it. */
static void no_final(sr_daemon_t *d, const char *msg) {
  warn_undelivered(d, msg);
  close_all(d);
}

/* Cluster mode: the users changed since the last checkpoint go to the
 * state topic first, and the checkpoint waits for them (docs/scaling.md,
 * "User handoff"), so that committed offsets never run ahead of the state
 * that covers them. Returns true when the snapshot may be taken now. */
static bool state_flushed(sr_daemon_t *d, ckpt_kind_t kind) {
  if (!d->owner)
    return true;
  sr_owner_flush_t st = sr_owner_flush(d->owner);
  if (st == SR_OWNER_FLUSHED)
    return true;
  if (st == SR_OWNER_SENDING) {
    if (kind != CK_FINAL)
      hold(d, kind);
    return false;
  }
  sr_owner_flush_abandon(d->owner);
  if (kind == CK_FINAL) {
    no_final(d, "no final checkpoint: user states not delivered to the state "
                "topic; the next start replays from the last checkpoint");
    return false;
  }
  sr_log(SR_LOG_WARN,
         "checkpoint put off: user states not delivered to the state topic",
         NULL);
  end_quiesce(d);
  d->quiesce_retry_ms = uv_now(&d->loop) + QUIESCE_BACKOFF_MS;
  return false;
}

static void start_checkpoint(sr_daemon_t *d, ckpt_kind_t kind);

/* Delivery reports came in: the waiting checkpoint may go now. */
static void check_quiesced(sr_daemon_t *d) {
  if (!d->quiescing || d->phase != P_RUNNING)
    return;
  if (d->rf && sr_refresh_pending(d->rf) > 0)
    run_refresh(d, true); /* users whose delivery failed, once more */
  if (!drained(d))
    return;
  ckpt_kind_t kind = (ckpt_kind_t)(d->quiescing - 1);
  end_quiesce(d);
  start_checkpoint(d, kind);
}

/* A model that never learned and owns no offsets is exactly what a start
 * without a checkpoint gives, so there is nothing to write. */
static void skip_empty_checkpoint(sr_daemon_t *d, ckpt_kind_t kind) {
  d->ckpt_fresh_ms = mono_ms();
  if (kind == CK_REQUESTED)
    sr_log(SR_LOG_INFO, "checkpoint skipped: nothing learned yet", NULL);
  if (kind != CK_FINAL)
    return;
  sr_log(SR_LOG_INFO, "nothing learned; no final checkpoint needed", NULL);
  close_all(d);
}

/* Commits the final checkpoint's offsets and waits for that (bounded);
 * without anything to commit the daemon closes at once. */
static void commit_final(sr_daemon_t *d, const sr_offset_t *offs, size_t n) {
  if (sr_source_commit(d->src, offs, n, &final_commit_tag) != SR_OK) {
    close_all(d);
    return;
  }
  d->phase = P_COMMITTING;
  uv_timer_start(&d->deadline_timer, on_deadline, COMMIT_WAIT_MS, 0);
}

/* The newest file already holds exactly this model and these offsets: it
 * is as good as a new one. A final skip still commits the offsets, since
 * the commit after the last write may have failed. */
static void skip_unchanged_checkpoint(sr_daemon_t *d, ckpt_kind_t kind,
                                      sr_offset_t *offs, size_t n) {
  d->ckpt_fresh_ms = mono_ms();
  const char *file = sr_logq(sr_saver_last_path(d->sv));
  uint64_t events = sr_model_events_applied(d->mdl);
  if (kind == CK_PERIODIC)
    sr_log(SR_LOG_DEBUG, "checkpoint skipped: unchanged", "file=%s", file);
  else if (kind == CK_REQUESTED)
    sr_log(SR_LOG_INFO, "checkpoint skipped: unchanged since the last one",
           "file=%s events_applied=%" PRIu64, file, events);
  else
    sr_log(SR_LOG_INFO,
           "final checkpoint skipped: unchanged since the last one",
           "file=%s events_applied=%" PRIu64, file, events);
  if (kind == CK_FINAL)
    commit_final(d, offs, n);
  free(offs);
}

/* The input's next offsets and, in cluster mode, the sync topic's and the
 * member id: taken in the same loop step as the snapshot, so that the
 * deltas the model holds are exactly those below the sync offsets. */
static ssize_t checkpoint_offsets(sr_daemon_t *d, sr_offset_t **out) {
  ssize_t n = sr_source_offsets(d->src, out);
  if (n > 0 && d->owner)
    n = (ssize_t)sr_owner_held_offsets(d->owner, *out, (size_t)n);
  if (n < 0 || !d->sync)
    return n;
  size_t k = (size_t)n;
  if (sr_sync_offsets(d->sync, out, &k) != 0) {
    free(*out);
    *out = NULL;
    return -1;
  }
  return (ssize_t)k;
}

/* The checkpoint's record of last lists would be the last one's: with an
 * items topic, a takedown's refreshes change it without an event. */
static bool lists_unchanged(const sr_daemon_t *d) {
  return !d->cat || sr_telemetry_lists_recorded(d->tel) == d->lists_saved;
}

static void start_checkpoint(sr_daemon_t *d, ckpt_kind_t kind) {
  bool final = kind == CK_FINAL;
  if (sr_saver_busy(d->sv)) {
    /* The running job's completion starts the next one. */
    if (!final)
      d->ckpt_requested = true;
    return;
  }
  sr_offset_t *offs;
  ssize_t n = checkpoint_offsets(d, &offs);
  sr_err_t err = SR_ERR_NOMEM;
  if (n == 0 && sr_model_events_applied(d->mdl) == 0) {
    skip_empty_checkpoint(d, kind);
    return;
  }
  if (n >= 0 && sr_saver_unchanged(d->sv, d->mdl, offs, (size_t)n) &&
      lists_unchanged(d)) {
    skip_unchanged_checkpoint(d, kind, offs, (size_t)n);
    return;
  }
  if (n >= 0 && ((!final && !quiesce(d, kind)) || !state_flushed(d, kind))) {
    free(offs);
    return;
  }
  d->lists_saving = sr_telemetry_lists_recorded(d->tel);
  if (n >= 0)
    err = sr_saver_start(d->sv, d->mdl, offs, (size_t)n,
                         sr_source_cluster_id(d->src), sr_now_ms());
  if (d->owner && err == SR_OK)
    sr_owner_flush_done(d->owner);
  else if (d->owner)
    sr_owner_flush_abandon(d->owner);
  if (err == SR_OK) {
    d->final_started = final;
    return;
  }
  sr_log(SR_LOG_ERROR, "checkpoint could not start", "error=%s",
         sr_err_str(err));
  if (final) {
    d->exit_code = 1;
    close_all(d);
  }
}

static void log_saved(const sr_saver_result_t *res, bool final) {
  if (res->err != SR_OK) {
    sr_log(SR_LOG_ERROR, "checkpoint failed", "seq=%" PRIu64 " error=%s",
           res->seq, sr_logq(res->error));
    return;
  }
  sr_log(SR_LOG_INFO, final ? "final checkpoint written" : "checkpoint written",
         "file=%s seq=%" PRIu64 " events_applied=%" PRIu64
         " partitions=%zu snapshot_ms=%.1f write_ms=%.1f",
         sr_logq(res->path), res->seq, res->events_applied, res->n_offsets,
         res->snapshot_ms, res->write_ms);
}

/* A durable checkpoint's offsets go to the group, so lag tools see real
 * progress; the final one is waited for (bounded). */
static void on_saved(void *opaque, const sr_saver_result_t *res) {
  sr_daemon_t *d = opaque;
  bool final = d->final_started;
  log_saved(res, final);
  sr_telemetry_checkpoint(d->tel, res->err == SR_OK,
                          (res->snapshot_ms + res->write_ms) / 1000.0);
  if (res->err == SR_OK) {
    d->ckpt_fresh_ms = mono_ms();
    d->lists_saved = d->lists_saving;
  }
  if (final) {
    d->final_started = false;
    if (res->err != SR_OK) {
      d->exit_code = 1;
      close_all(d);
    } else {
      commit_final(d, res->offsets, res->n_offsets);
    }
    return;
  }
  /* Committing while the group rejoins would cost the whole assignment;
   * the next checkpoint commits past this one anyway. */
  if (res->err == SR_OK && sr_source_rejoining(d->src))
    sr_log(SR_LOG_DEBUG, "commit skipped: the group is rebalancing", NULL);
  else if (res->err == SR_OK)
    sr_source_commit(d->src, res->offsets, res->n_offsets, NULL);
  if (d->phase == P_SAVING)
    start_checkpoint(d, CK_FINAL);
  else if (d->ckpt_requested && d->phase == P_RUNNING) {
    d->ckpt_requested = false;
    start_checkpoint(d, CK_REQUESTED);
  }
}

static void on_ckpt_timer(uv_timer_t *t) {
  sr_daemon_t *d = t->data;
  if (d->phase == P_RUNNING)
    start_checkpoint(d, CK_PERIODIC);
}

static void check_drained(sr_daemon_t *d) {
  if (d->phase != P_DRAINING)
    return;
  if (d->rf && sr_refresh_pending(d->rf) > 0)
    run_refresh(d, true); /* users whose delivery failed, once more */
  if (drained(d) && state_flushed(d, CK_FINAL))
    start_final(d);
}

/* Deadlines of the bounded waits: the producer's drain, the final commit. */
static void on_deadline(uv_timer_t *t) {
  sr_daemon_t *d = t->data;
  if (d->phase == P_RUNNING && d->quiescing) {
    warn_undelivered(
        d, "checkpoint put off: output of applied events still undelivered");
    if (d->owner)
      sr_owner_flush_abandon(d->owner);
    end_quiesce(d);
    d->quiesce_retry_ms = uv_now(&d->loop) + QUIESCE_BACKOFF_MS;
  } else if (d->phase == P_DRAINING) {
    warn_undelivered(d, "gave up waiting for deliveries");
    start_final(d);
  } else if (d->phase == P_COMMITTING) {
    sr_log(SR_LOG_WARN, "final offset commit did not finish in time", NULL);
    close_all(d);
  }
}

/* A final checkpoint over undelivered output would lose it for good; the
 * last checkpoint written is still consistent, and a restart replays the
 * events after it and publishes their lists again. */
static void start_final(sr_daemon_t *d) {
  d->phase = P_SAVING;
  uv_timer_stop(&d->deadline_timer);
  if (!drained(d)) {
    no_final(d, "no final checkpoint: output of applied events undelivered; "
                "the next start replays from the last checkpoint");
    return;
  }
  start_checkpoint(d, CK_FINAL);
}

/* Stops consuming and starts the way out. Another stop while waiting for
 * deliveries bounds an unbounded wait (--until end) or cuts a bounded one
 * short. */
static void begin_stop(sr_daemon_t *d, int code, const char *why,
                       bool bounded) {
  if (code > d->exit_code)
    d->exit_code = code;
  if (d->phase == P_DRAINING &&
      !uv_is_active((uv_handle_t *)&d->deadline_timer))
    uv_timer_start(&d->deadline_timer, on_deadline, DRAIN_WAIT_MS, 0);
  else if (d->phase == P_DRAINING)
    start_final(d);
  else if (d->phase == P_COMMITTING)
    close_all(d);
  if (d->phase != P_RUNNING)
    return;
  sr_log(SR_LOG_INFO, "stopping", "reason=%s events_applied=%" PRIu64,
         sr_logq(why), sr_model_events_applied(d->mdl));
  d->phase = P_DRAINING;
  end_quiesce(d);
  uv_idle_stop(&d->drain_idle);
  uv_timer_stop(&d->ckpt_timer);
  uv_timer_stop(&d->refresh_timer);
  /* Fetching stops too: what is already queued is never applied, so the
   * final checkpoint's offsets are exactly what the model holds. */
  sr_source_pause(d->src, true);
  if (d->rf)
    run_refresh(d, true);
  /* The last deltas go out with the rest of the output; the final
   * checkpoint waits for them like it waits for the lists. */
  if (d->sync) {
    uv_timer_stop(&d->sync_timer);
    sr_sync_publish(d->sync);
  }
  if (bounded)
    uv_timer_start(&d->deadline_timer, on_deadline, DRAIN_WAIT_MS, 0);
  check_drained(d);
}

static void on_signal(uv_signal_t *h, int signum) {
  sr_daemon_t *d = h->data;
  const sig_entry_t *sig = &signal_table[h - d->sigs];
  (void)signum;
  switch (sig->action) {
  case ON_STOP:
    /* A backfill stopped before its end did not do its job. */
    begin_stop(d, d->opts.until_end && d->phase == P_RUNNING ? 1 : 0, sig->name,
               true);
    break;
  case ON_STOP_FAIL: begin_stop(d, 1, sig->name, true); break;
  case ON_CHECKPOINT:
    if (d->phase == P_RUNNING) {
      sr_log(SR_LOG_INFO, "checkpoint requested (SIGUSR1)", NULL);
      start_checkpoint(d, CK_REQUESTED);
    } else {
      sr_log(SR_LOG_INFO, "checkpoint request ignored: stopping", NULL);
    }
    break;
  case ON_LOG_ONLY:
    sr_log(SR_LOG_WARN, "signal ignored: streamrec defines no action for it",
           "kind=%s", sig->name);
    break;
  }
}

static void on_snk_readable(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sr_daemon_t *d = h->data;
  sr_sink_serve(d->snk);
  if (d->phase == P_RUNNING) {
    check_backpressure(d);
    schedule_refresh(d); /* failed deliveries queued users again */
    check_quiesced(d);
  }
  check_drained(d);
}

static void format_eta(double secs, char *buf, size_t len) {
  if (!isfinite(secs) || secs < 0) {
    snprintf(buf, len, "?");
    return;
  }
  long s = lround(secs);
  if (s < 100)
    snprintf(buf, len, "%lds", s);
  else if (s < 6000)
    snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
  else
    snprintf(buf, len, "%ldh%02ldm", s / 3600, s / 60 % 60);
}

static void progress(sr_daemon_t *d) {
  uint64_t now = uv_now(&d->loop), events = sr_model_events_applied(d->mdl);
  double dt = (double)(now - d->prog_ms) / 1000.0;
  if (dt <= 0)
    return;
  double inst = (double)(events - d->prog_events) / dt;
  d->rate = d->prog_ms ? 0.6 * d->rate + 0.4 * inst : inst;
  d->prog_ms = now;
  d->prog_events = events;
  int64_t lag = sr_source_lag(d->src);
  char line[256], eta[32], lagtxt[32];
  format_eta(lag >= 0 && d->rate > 1 ? (double)lag / d->rate : NAN, eta,
             sizeof(eta));
  snprintf(lagtxt, sizeof(lagtxt), lag >= 0 ? "%" PRId64 : "?", lag);
  if (d->opts.progress) {
    snprintf(line, sizeof(line),
             "streamrec: %" PRIu64
             " events  %.0f/s  lag %s  ETA %s  lists %" PRIu64 "%s",
             events, d->rate, lagtxt, eta, d->published,
             d->src && sr_source_paused(d->src) ? "  (paused)" : "");
    sr_log_status(line);
  } else if (now - d->last_stats_ms >= STATS_LOG_MS) {
    d->last_stats_ms = now;
    sr_log(SR_LOG_INFO, "progress",
           "events_applied=%" PRIu64 " rate=%.0f lag=%s lists=%" PRIu64, events,
           d->rate, lagtxt, d->published);
  }
}

/* Replaces a consumer whose group cannot rejoin (see sr_source_stuck);
 * the thread-pool queries use the consumer, so none may be running. */
static void check_stuck(sr_daemon_t *d) {
  char errstr[256];
  if (!sr_source_stuck(d->src) || d->ends_busy || d->times_busy)
    return;
  if (sr_source_restart(d->src, errstr, sizeof(errstr)) != SR_OK) {
    sr_log(SR_LOG_ERROR, "could not recreate the consumer", "error=%s",
           sr_logq(errstr));
    return;
  }
  uv_idle_stop(&d->drain_idle);
}

/* A backlog fills librdkafka's prefetch queue with small allocations made
 * on its threads' heaps; freed, they stay resident (glibc returns only the
 * top of each heap) and the process would keep the backlog's peak for good.
 * Trimming hands the free pages back, so that the resident size follows the
 * model again once the backlog is read. */
static void trim_heap(sr_daemon_t *d) {
  uint64_t now = uv_now(&d->loop);
  if (now - d->trim_ms < TRIM_MS)
    return;
  d->trim_ms = now;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

static void on_tick(uv_timer_t *t) {
  sr_daemon_t *d = t->data;
  d->beat_ms = mono_ms();
  if (d->phase == P_RUNNING) {
    sr_source_tick(d->src);
    check_stuck(d);
    progress(d);
    check_backpressure(d);
    if (d->opts.until_end && !d->ends_busy && d->ends_retry_at &&
        uv_now(&d->loop) >= d->ends_retry_at)
      start_ends_query(d);
    check_until(d);
    check_until_progress(d);
    trim_heap(d);
  }
  check_drained(d);
}

/* The index's lifecycle says when it wants to run next: every
 * millisecond while it copies item rows in slices, rarely otherwise. */
static void on_retrieval_timer(uv_timer_t *t) {
  sr_daemon_t *d = t->data;
  if (d->phase != P_RUNNING)
    return;
  uv_timer_start(t, on_retrieval_timer, sr_retrieval_step(d->rtv), 0);
}

/* The daemon's handles, for loops over all of them; the producer's poll
 * exists only with a producer. Returns the count. */
static size_t all_handles(sr_daemon_t *d, uv_handle_t **out) {
  size_t n = 0;
  out[n++] = (uv_handle_t *)&d->src_poll;
  if (d->snk)
    out[n++] = (uv_handle_t *)&d->snk_poll;
  out[n++] = (uv_handle_t *)&d->drain_idle;
  out[n++] = (uv_handle_t *)&d->refresh_timer;
  out[n++] = (uv_handle_t *)&d->ckpt_timer;
  out[n++] = (uv_handle_t *)&d->tick_timer;
  out[n++] = (uv_handle_t *)&d->deadline_timer;
  out[n++] = (uv_handle_t *)&d->retrieval_timer;
  out[n++] = (uv_handle_t *)&d->stall_prepare;
  if (d->sync) {
    out[n++] = (uv_handle_t *)&d->sync_poll;
    out[n++] = (uv_handle_t *)&d->sync_idle;
    out[n++] = (uv_handle_t *)&d->sync_timer;
  }
  if (d->owner) {
    out[n++] = (uv_handle_t *)&d->owner_poll;
    out[n++] = (uv_handle_t *)&d->owner_idle;
  }
  if (d->cat) {
    out[n++] = (uv_handle_t *)&d->items_poll;
    out[n++] = (uv_handle_t *)&d->items_idle;
  }
  for (size_t i = 0; i < N_SIGNALS; i++)
    out[n++] = (uv_handle_t *)&d->sigs[i];
  return n;
}

#define MAX_HANDLES (16 + N_SIGNALS)

/* The wake-up pipes of the clients that exist. Returns 0, or -1 with
 * none of them left open. */
static int init_polls(sr_daemon_t *d) {
  struct {
    uv_poll_t *h;
    bool on;
    int fd;
  } polls[] = {
      {&d->src_poll, true, sr_source_fd(d->src)},
      {&d->snk_poll, d->snk != NULL, d->snk ? sr_sink_fd(d->snk) : -1},
      {&d->sync_poll, d->sync != NULL, d->sync ? sr_sync_fd(d->sync) : -1},
      {&d->owner_poll, d->owner != NULL, d->owner ? sr_owner_fd(d->owner) : -1},
      {&d->items_poll, d->cat != NULL, d->cat ? sr_catalogue_fd(d->cat) : -1},
  };
  size_t n = sizeof(polls) / sizeof(polls[0]);
  for (size_t i = 0; i < n; i++) {
    int rc = polls[i].on ? uv_poll_init(&d->loop, polls[i].h, polls[i].fd) : 0;
    if (rc == 0)
      continue;
    while (i-- > 0)
      if (polls[i].on)
        uv_close((uv_handle_t *)polls[i].h, NULL);
    sr_log(SR_LOG_ERROR, "uv_poll_init failed", "error=%s",
           sr_logq(uv_strerror(rc)));
    return -1;
  }
  return 0;
}

static int init_handles(sr_daemon_t *d) {
  uv_handle_t *handles[MAX_HANDLES];
  if (init_polls(d) != 0)
    return -1;
  uv_idle_init(&d->loop, &d->drain_idle);
  uv_timer_init(&d->loop, &d->refresh_timer);
  uv_timer_init(&d->loop, &d->ckpt_timer);
  uv_timer_init(&d->loop, &d->tick_timer);
  uv_timer_init(&d->loop, &d->deadline_timer);
  uv_timer_init(&d->loop, &d->retrieval_timer);
  uv_prepare_init(&d->loop, &d->stall_prepare);
  /* Only the handles all_handles lists: the loop closes no other. */
  if (d->sync) {
    uv_idle_init(&d->loop, &d->sync_idle);
    uv_timer_init(&d->loop, &d->sync_timer);
  }
  if (d->owner)
    uv_idle_init(&d->loop, &d->owner_idle);
  if (d->cat)
    uv_idle_init(&d->loop, &d->items_idle);
  for (size_t i = 0; i < N_SIGNALS; i++)
    uv_signal_init(&d->loop, &d->sigs[i]);
  size_t n = all_handles(d, handles);
  for (size_t i = 0; i < n; i++)
    uv_handle_set_data(handles[i], d);
  d->handles_ready = true;
  return 0;
}

/* Runs once per iteration, right before the loop waits for I/O. The wall
 * time since the previous run minus the time spent waiting in between is
 * what the iteration's callbacks took: the loop was blocked for that long. */
static void on_prepare(uv_prepare_t *h) {
  sr_daemon_t *d = h->data;
  uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(&d->loop);
  if (d->iter_ns) {
    uint64_t wall = now - d->iter_ns, waited = idle - d->idle_ns;
    sr_telemetry_loop_busy(d->tel,
                           wall > waited ? (double)(wall - waited) / 1e9 : 0);
  }
  d->iter_ns = now;
  d->idle_ns = idle;
}

/* A signal left to someone else (see sig_entry_t) keeps its handle, idle. */
static void start_signals(sr_daemon_t *d) {
  for (size_t i = 0; i < N_SIGNALS; i++) {
    const sig_entry_t *sig = &signal_table[i];
    struct sigaction sa;
    if (sig->only_if_default &&
        (sigaction(sig->signum, NULL, &sa) != 0 || sa.sa_handler != SIG_DFL)) {
      sr_log(SR_LOG_DEBUG, "signal left as found", "kind=%s", sig->name);
      continue;
    }
    uv_signal_start(&d->sigs[i], on_signal, sig->signum);
  }
}

static void start_handles(sr_daemon_t *d) {
  uint64_t ckpt_ms = (uint64_t)(d->cfg.checkpoint.interval_s * 1000.0 + 0.5);
  uv_poll_start(&d->src_poll, UV_READABLE, on_src_readable);
  if (d->snk)
    uv_poll_start(&d->snk_poll, UV_READABLE, on_snk_readable);
  uv_timer_start(&d->ckpt_timer, on_ckpt_timer, ckpt_ms, ckpt_ms);
  uv_timer_start(&d->tick_timer, on_tick, TICK_MS, TICK_MS);
  uv_timer_start(&d->retrieval_timer, on_retrieval_timer, 0, 0);
  uv_prepare_start(&d->stall_prepare, on_prepare);
  if (d->sync) {
    uint64_t sync_ms = d->cfg.cluster.sync_interval_ms;
    uv_poll_start(&d->sync_poll, UV_READABLE, on_sync_readable);
    uv_timer_start(&d->sync_timer, on_sync_timer, sync_ms, sync_ms);
  }
  if (d->owner)
    uv_poll_start(&d->owner_poll, UV_READABLE, on_owner_readable);
  if (d->cat)
    uv_poll_start(&d->items_poll, UV_READABLE, on_items_readable);
  start_signals(d);
}

static void close_handles(sr_daemon_t *d) {
  uv_handle_t *handles[MAX_HANDLES];
  if (!d->handles_ready)
    return;
  /* The handles live inside the daemon, which outlives the loop: the close
   * callbacks have nothing to free. */
  size_t n = all_handles(d, handles);
  for (size_t i = 0; i < n; i++) {
    if (!uv_is_closing(handles[i]))
      uv_close(handles[i], NULL);
  }
  d->handles_ready = false;
}

/* What this member did for the cluster. */
static void log_cluster_summary(sr_daemon_t *d) {
  sr_sync_stats_t ys = sr_sync_stats(d->sync);
  sr_share_stats_t hs = sr_share_stats(d->mdl);
  sr_log(SR_LOG_INFO, "cluster member stopped",
         "member=%s deltas_sent=%" PRIu64 " batches_sent=%" PRIu64
         " sync_bytes_sent=%" PRIu64 " deltas_failed=%" PRIu64
         " deltas_applied=%" PRIu64 " batches_applied=%" PRIu64
         " skipped_events=%" PRIu64 " misrouted_events=%" PRIu64,
         sr_logq(d->member_id), ys.deltas_sent, ys.batches_sent, ys.bytes_sent,
         ys.deltas_failed, ys.deltas_applied, ys.batches_applied, hs.skipped,
         hs.misrouted);
}

static void log_summary(sr_daemon_t *d) {
  sr_sink_stats_t ss = d->snk ? sr_sink_stats(d->snk) : (sr_sink_stats_t){0};
  sr_source_stats_t cs = sr_source_stats(d->src);
  char rejected[512] = "";
  size_t off = 0;
  for (int r = 1; r < SR_REASON__COUNT && off < sizeof(rejected); r++) {
    uint64_t n = sr_ingest_rejected(d->ing, (sr_reason_t)r);
    if (n)
      off += (size_t)snprintf(rejected + off, sizeof(rejected) - off,
                              " rejected_%s=%" PRIu64, sr_reason_name(r), n);
  }
  /* The prequential counts add up across the instances of a group to the
   * group's hit rate. */
  uint64_t hits, evaluated;
  sr_telemetry_prequential(d->tel, &hits, &evaluated);
  sr_log(SR_LOG_INFO, "stopped",
         "exit_code=%d events_applied=%" PRIu64 " messages=%" PRIu64
         " duplicates_skipped=%" PRIu64 " lists_published=%" PRIu64
         " lists_delivered=%" PRIu64 " lists_failed=%" PRIu64
         " dead_letters=%" PRIu64 " prequential_hits=%" PRIu64
         " prequential_evaluated=%" PRIu64 "%s",
         d->exit_code, sr_model_events_applied(d->mdl), cs.messages,
         cs.duplicates, ss.published, ss.delivered, ss.failed, ss.dead_letters,
         hits, evaluated, rejected);
  if (d->sync)
    log_cluster_summary(d);
}

/* The server's memory goes in its close callbacks, so the loop keeps
 * running until they ran. */
static void close_http(sr_daemon_t *d) {
  if (d->http)
    sr_http_close(d->http, NULL, NULL);
  d->http = NULL;
}

static void close_all(sr_daemon_t *d) {
  if (d->phase == P_CLOSING)
    return;
  d->phase = P_CLOSING;
  if (d->opts.progress)
    sr_log_status(NULL);
  log_summary(d);
  if (d->owner)
    sr_owner_close(d->owner);
  close_handles(d);
  close_http(d);
}

int sr_daemon_run(sr_daemon_t *d) {
  if (init_handles(d) != 0)
    return 1;
  start_handles(d);
  d->phase = P_RUNNING;
  d->prog_ms = uv_now(&d->loop);
  d->last_stats_ms = d->prog_ms;
  d->trim_ms = d->prog_ms;
  d->beat_ms = d->ckpt_fresh_ms = mono_ms();
  start_consuming(d);
  schedule_refresh(d); /* lists owed since the start (refresh_noted) */
  uv_run(&d->loop, UV_RUN_DEFAULT);
  return d->exit_code;
}

void sr_daemon_free(sr_daemon_t *d) {
  if (!d)
    return;
  if (d->loop_ready) {
    close_handles(d);
    close_http(d);
    /* Runs the close callbacks and any thread-pool job still in flight. */
    uv_run(&d->loop, UV_RUN_DEFAULT);
    uv_loop_close(&d->loop);
  }
  /* The consumer leaves its group before the producer and the embedded
   * broker go away. */
  sr_owner_free(d->owner);
  sr_source_free(d->src);
  sr_sync_free(d->sync);
  sr_catalogue_free(d->cat);
  sr_sink_free(d->snk);
  sr_ingest_free(d->ing);
  sr_refresh_free(d->rf);
  sr_retrieval_free(d->rtv);
  sr_saver_free(d->sv);
  sr_telemetry_free(d->tel);
  sr_embedded_free(d->emb);
  sr_model_free(d->mdl);
  free(d);
}
