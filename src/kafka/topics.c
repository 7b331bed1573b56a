/* Start-up check and embedded creation of the cluster's topics; see
 * topics.h. */
#include "kafka/topics.h"

#include "kafka/client.h"
#include "util/err.h"

#include <librdkafka/rdkafka.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much longer than the request's own timeout the admin queue is
 * waited on, so that librdkafka's timeout, with its reason, comes first. */
#define GRACE_MS 1000

/* A client and its one answer to "every topic of the cluster". */
typedef struct cluster {
  rd_kafka_t *rk;
  const struct rd_kafka_metadata *md;
} cluster_t;

/* One check in progress. */
typedef struct check {
  const cluster_t *cl;
  const char *brokers;
  const sr_topic_want_t *want;
  size_t n;
  sr_topics_report_t *rep;
  bool nomem;
} check_t;

static void vappend(sr_buf_t *buf, bool *nomem, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  int need = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (need < 0 || sr_buf_reserve(buf, (size_t)need + 1) != 0) {
    *nomem = true;
    return;
  }
  vsnprintf(buf->data + buf->len, (size_t)need + 1, fmt, ap);
  buf->len += (size_t)need;
}

/* Appends text to the report's errors; count says whether it starts a new
 * one (the command lines that follow a finding do not). */
static void add_error(check_t *chk, bool count, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_error(check_t *chk, bool count, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vappend(&chk->rep->errors, &chk->nomem, fmt, ap);
  va_end(ap);
  chk->rep->n_errors += count;
}

static void add_warning(check_t *chk, const char *topic, const char *reason) {
  sr_topics_report_t *rep = chk->rep;
  if (sr_buf_printf(&rep->warnings, "cannot check cleanup.policy of %s: %s\n",
                    topic, reason) != 0)
    chk->nomem = true;
  rep->n_warnings++;
}

/* A wanted list names every topic, with counts that make sense, and a
 * topic follows another one, never itself. */
static sr_err_t validate(const sr_topic_want_t *want, size_t n, char *errstr,
                         size_t len) {
  for (size_t i = 0; i < n; i++) {
    const sr_topic_want_t *w = &want[i];
    if (!w->name || !w->name[0])
      return sr_errf(errstr, len, SR_ERR_INVALID,
                     "wanted topic %zu has no name", i);
    if (w->partitions < 0 || (w->partitions > 0 && w->like) ||
        (w->like && (!w->like[0] || !strcmp(w->like, w->name))))
      return sr_errf(errstr, len, SR_ERR_INVALID,
                     "topic %s: wants a count > 0 or another topic's count",
                     w->name);
  }
  return SR_OK;
}

/* The producer client does nothing but ask. A metadata request that names
 * a missing topic creates it on brokers that auto-create topics, whatever
 * the client asks for (librdkafka's mock makes it with 4 partitions), so
 * the cluster is only ever asked for all of its topics; not asking to
 * create them is a second guard, for real brokers. */
static sr_err_t cluster_open(cluster_t *cl, const sr_kafka_conf_t *kc,
                             const char *brokers, int timeout_ms, char *errstr,
                             size_t len) {
  rd_kafka_conf_t *conf = sr_kafka_conf_new(kc, brokers, errstr, len);
  if (!conf)
    return SR_ERR_INVALID;
  if (sr_kafka_conf_set(conf, "allow.auto.create.topics", "false", errstr,
                        len) != 0) {
    rd_kafka_conf_destroy(conf);
    return SR_ERR_INVALID;
  }
  char why[512];
  cl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
  if (!cl->rk) {
    rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
    return sr_errf(errstr, len, SR_ERR_INVALID, "kafka client: %s", why);
  }
  rd_kafka_resp_err_t err =
      rd_kafka_metadata(cl->rk, 1, NULL, &cl->md, timeout_ms);
  if (err) {
    cl->md = NULL;
    return sr_errf(errstr, len, SR_ERR_IO,
                   "cannot list the topics of %s within %d ms: %s", brokers,
                   timeout_ms, rd_kafka_err2str(err));
  }
  return SR_OK;
}

static void cluster_close(cluster_t *cl) {
  if (cl->md)
    rd_kafka_metadata_destroy(cl->md);
  if (cl->rk)
    rd_kafka_destroy(cl->rk);
  cl->md = NULL;
  cl->rk = NULL;
}

/* The topic as the cluster described it, or NULL when it does not exist. */
static const rd_kafka_metadata_topic_t *find_topic(const cluster_t *cl,
                                                   const char *name) {
  for (int i = 0; i < cl->md->topic_cnt; i++) {
    const rd_kafka_metadata_topic_t *mt = &cl->md->topics[i];
    if (!strcmp(mt->topic, name))
      return mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ? NULL : mt;
  }
  return NULL;
}

/* The partitions w needs: its own count, else the count its model topic
 * has on the cluster, else the one the model is wanted with. 0 when any
 * count will do or nothing fixes it. */
static int needed(const cluster_t *cl, const sr_topic_want_t *want, size_t n,
                  const sr_topic_want_t *w) {
  if (w->partitions > 0 || !w->like)
    return w->partitions;
  const rd_kafka_metadata_topic_t *model = find_topic(cl, w->like);
  if (model)
    return model->partition_cnt;
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(want[i].name, w->like))
      return want[i].partitions;
  }
  return 0;
}

static const char *policy_name(sr_topic_policy_t policy) {
  return policy == SR_TOPIC_POLICY_COMPACT ? "compact" : "delete";
}

/* The command that creates w; a count nothing fixes is left for the
 * operator to choose, named as such. */
static void add_create_cmd(check_t *chk, const sr_topic_want_t *w, int need) {
  char count[300];
  if (need > 0)
    snprintf(count, sizeof(count), "%d", need);
  else if (w->like)
    snprintf(count, sizeof(count), "<partitions of %s>", w->like);
  else
    snprintf(count, sizeof(count), "<N>");
  add_error(chk, false,
            "  kafka-topics.sh --bootstrap-server %s --create --topic %s "
            "--partitions %s",
            chk->brokers, w->name, count);
  if (w->policy != SR_TOPIC_POLICY_ANY)
    add_error(chk, false, " --config cleanup.policy=%s",
              policy_name(w->policy));
  add_error(chk, false, "\n");
}

/* Kafka adds partitions but never removes them: a topic with too many is
 * deleted, with its records, and created again. */
static void add_count_error(check_t *chk, const sr_topic_want_t *w, int have,
                            int need) {
  char as[300] = "";
  if (w->like)
    snprintf(as, sizeof(as), " (as many as %s)", w->like);
  add_error(chk, true, "topic %s: has %d partitions, needs %d%s\n", w->name,
            have, need, as);
  if (have < need) {
    add_error(chk, false,
              "  kafka-topics.sh --bootstrap-server %s --alter --topic %s "
              "--partitions %d\n",
              chk->brokers, w->name, need);
    return;
  }
  add_error(chk, false,
            "  a topic cannot lose partitions: delete it (and its records) "
            "and create it again:\n"
            "  kafka-topics.sh --bootstrap-server %s --delete --topic %s\n",
            chk->brokers, w->name);
  add_create_cmd(chk, w, need);
}

/* Existence and partition count of one wanted topic. Returns true when it
 * exists and its policy is still to be checked. */
static bool check_shape(check_t *chk, const sr_topic_want_t *w) {
  const rd_kafka_metadata_topic_t *mt = find_topic(chk->cl, w->name);
  int need = needed(chk->cl, chk->want, chk->n, w);
  if (!mt) {
    add_error(chk, true, "topic %s: missing\n", w->name);
    add_create_cmd(chk, w, need);
    return false;
  }
  /* Without partitions (no permission to see the topic, say) there is
   * nothing to compare; a transient error still comes with them. */
  if (mt->err && mt->partition_cnt == 0) {
    add_error(chk, true, "topic %s: %s\n", w->name, rd_kafka_err2str(mt->err));
    return false;
  }
  if (need > 0 && mt->partition_cnt != need)
    add_count_error(chk, w, mt->partition_cnt, need);
  return w->policy != SR_TOPIC_POLICY_ANY;
}

/* "compact" alone keeps the latest record of every key for ever; with
 * "delete" as well, retention would drop users who have been quiet. */
static bool policy_ok(sr_topic_policy_t policy, const char *value) {
  if (policy == SR_TOPIC_POLICY_COMPACT)
    return !strcmp(value, "compact");
  return !strstr(value, "compact");
}

static void check_policy_value(check_t *chk, const sr_topic_want_t *w,
                               const rd_kafka_ConfigResource_t *res) {
  size_t n_entries = 0;
  const rd_kafka_ConfigEntry_t **entries =
      rd_kafka_ConfigResource_configs(res, &n_entries);
  const char *value = NULL;
  bool found = false;
  for (size_t i = 0; i < n_entries && !found; i++) {
    found = !strcmp(rd_kafka_ConfigEntry_name(entries[i]), "cleanup.policy");
    if (found)
      value = rd_kafka_ConfigEntry_value(entries[i]);
  }
  if (!value) {
    add_warning(chk, w->name, "the cluster did not return its value");
    return;
  }
  if (policy_ok(w->policy, value))
    return;
  add_error(chk, true, "topic %s: cleanup.policy is %s, needs %s\n", w->name,
            value, policy_name(w->policy));
  add_error(chk, false,
            "  kafka-configs.sh --bootstrap-server %s --alter --entity-type "
            "topics --entity-name %s --add-config cleanup.policy=%s\n",
            chk->brokers, w->name, policy_name(w->policy));
}

static const sr_topic_want_t *want_named(const check_t *chk, const char *name) {
  for (size_t i = 0; i < chk->n; i++) {
    if (!strcmp(chk->want[i].name, name))
      return &chk->want[i];
  }
  return NULL;
}

/* Reads DescribeConfigs' answer: a topic the cluster could not describe is
 * a warning, a described one is checked. */
static void read_described(check_t *chk, rd_kafka_event_t *ev) {
  const rd_kafka_DescribeConfigs_result_t *result =
      rd_kafka_event_DescribeConfigs_result(ev);
  size_t n_res = 0;
  const rd_kafka_ConfigResource_t **res =
      rd_kafka_DescribeConfigs_result_resources(result, &n_res);
  for (size_t i = 0; i < n_res; i++) {
    const sr_topic_want_t *w =
        want_named(chk, rd_kafka_ConfigResource_name(res[i]));
    if (!w)
      continue;
    rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(res[i]);
    if (err) {
      const char *why = rd_kafka_ConfigResource_error_string(res[i]);
      add_warning(chk, w->name, why ? why : rd_kafka_err2str(err));
      continue;
    }
    check_policy_value(chk, w, res[i]);
  }
}

static void warn_all(check_t *chk, const sr_topic_want_t **ws, size_t k,
                     const char *reason) {
  for (size_t i = 0; i < k; i++)
    add_warning(chk, ws[i]->name, reason);
}

/* librdkafka sends DescribeConfigs for a topic to the controller, and when
 * the cluster names none of its brokers as controller it waits for one
 * until the request times out. librdkafka's mock cluster does that (it
 * names broker 0, its brokers count from 1, and it has no DescribeConfigs
 * anyway): asking would only cost the whole timeout. */
static bool controller_known(const cluster_t *cl, int timeout_ms) {
  int32_t id = rd_kafka_controllerid(cl->rk, timeout_ms);
  for (int i = 0; i < cl->md->broker_cnt; i++) {
    if (cl->md->brokers[i].id == id)
      return true;
  }
  return false;
}

/* Asks for the configs of the k topics in ws, in one request, on a queue
 * of its own so that no other answer can be taken for it. */
static void describe(check_t *chk, const sr_topic_want_t **ws, size_t k,
                     int timeout_ms) {
  rd_kafka_t *rk = chk->cl->rk;
  rd_kafka_ConfigResource_t **res = calloc(k, sizeof(*res));
  rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t *opts =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  char why[512];
  if (!res || rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, why,
                                                        sizeof(why)) != 0) {
    chk->nomem = !res;
    warn_all(chk, ws, k, res ? why : "out of memory");
    goto done;
  }
  for (size_t i = 0; i < k; i++)
    res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, ws[i]->name);
  rd_kafka_DescribeConfigs(rk, res, k, opts, queue);
  rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, timeout_ms + GRACE_MS);
  if (!ev)
    warn_all(chk, ws, k, "no answer from the cluster in time");
  else if (rd_kafka_event_error(ev))
    warn_all(chk, ws, k, rd_kafka_event_error_string(ev));
  else
    read_described(chk, ev);
  if (ev)
    rd_kafka_event_destroy(ev);
done:
  for (size_t i = 0; res && i < k; i++) {
    if (res[i])
      rd_kafka_ConfigResource_destroy(res[i]);
  }
  free(res);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(queue);
}

static void check_policies(check_t *chk, const sr_topic_want_t **ws, size_t k,
                           int timeout_ms) {
  if (k == 0)
    return;
  if (!controller_known(chk->cl, timeout_ms)) {
    warn_all(chk, ws, k,
             "the cluster names no controller to describe topic configs "
             "(librdkafka's mock cluster cannot)");
    return;
  }
  describe(chk, ws, k, timeout_ms);
}

static sr_err_t report_fail(sr_topics_report_t *rep, sr_err_t err,
                            const char *why) {
  if (sr_buf_printf(&rep->errors, "%s\n", why) != 0)
    return SR_ERR_NOMEM;
  rep->n_errors++;
  return err;
}

sr_err_t sr_topics_check(const sr_kafka_conf_t *kc, const char *brokers,
                         const sr_topic_want_t *want, size_t n, int timeout_ms,
                         sr_topics_report_t *rep) {
  char why[512];
  sr_err_t err = validate(want, n, why, sizeof(why));
  if (err != SR_OK)
    return report_fail(rep, err, why);
  cluster_t cl = {0};
  const sr_topic_want_t **to_describe = calloc(n ? n : 1, sizeof(*to_describe));
  if (!to_describe)
    return SR_ERR_NOMEM;
  err = cluster_open(&cl, kc, brokers, timeout_ms, why, sizeof(why));
  if (err != SR_OK) {
    err = report_fail(rep, err, why);
    goto done;
  }
  check_t chk = {&cl, brokers, want, n, rep, false};
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (check_shape(&chk, &want[i]))
      to_describe[k++] = &want[i];
  }
  check_policies(&chk, to_describe, k, timeout_ms);
  err = chk.nomem ? SR_ERR_NOMEM : rep->n_errors ? SR_ERR_INVALID : SR_OK;
done:
  free(to_describe);
  cluster_close(&cl);
  return err;
}

void sr_topics_report_free(sr_topics_report_t *rep) {
  sr_buf_free(&rep->errors);
  sr_buf_free(&rep->warnings);
  rep->n_errors = rep->n_warnings = 0;
}

/* The count a missing topic is created with; the model of a following
 * topic may have been created earlier in the same pass, which a metadata
 * answer from before it does not show. */
static int create_count(const cluster_t *cl, const sr_topic_want_t *want,
                        size_t n, const sr_topic_want_t *w,
                        const int *created) {
  int need = needed(cl, want, n, w);
  for (size_t i = 0; need == 0 && w->like && i < n; i++) {
    if (!strcmp(want[i].name, w->like))
      need = created[i];
  }
  return need;
}

sr_err_t sr_topics_create_embedded(sr_embedded_t *emb,
                                   const sr_kafka_conf_t *kc,
                                   const sr_topic_want_t *want, size_t n,
                                   int timeout_ms, char *errstr, size_t len) {
  sr_err_t err = validate(want, n, errstr, len);
  if (err != SR_OK)
    return err;
  cluster_t cl = {0};
  int *created = calloc(n ? n : 1, sizeof(*created));
  if (!created)
    return sr_errf(errstr, len, SR_ERR_NOMEM, "out of memory");
  err = cluster_open(&cl, kc, sr_embedded_bootstraps(emb), timeout_ms, errstr,
                     len);
  for (size_t i = 0; err == SR_OK && i < n; i++) {
    const sr_topic_want_t *w = &want[i];
    if (find_topic(&cl, w->name))
      continue;
    created[i] = create_count(&cl, want, n, w, created);
    if (created[i] == 0)
      err = sr_errf(errstr, len, SR_ERR_INVALID,
                    "topic %s: no partition count to create it with", w->name);
    else
      err = sr_embedded_create_topic(emb, w->name, created[i], errstr, len);
  }
  free(created);
  cluster_close(&cl);
  return err;
}
