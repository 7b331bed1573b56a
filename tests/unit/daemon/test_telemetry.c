/* What the daemon tells its operators (src/daemon/telemetry.c): the
 * answers of /healthz and /readyz with their reasons, and the counters of
 * /metrics: every rejection reason shown from the start, totals kept
 * elsewhere copied in, events per topic, learned updates, the prequential
 * hit rate against the list last published for a user (forgotten when the
 * row goes to another user), the refresh latency and checkpoints. */
#include "daemon/telemetry.h"

#include "util/now.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

/* A healthy daemon: fresh heartbeat and checkpoint, consuming 3
 * partitions. */
static sr_health_t healthy(void) {
  return (sr_health_t){.now_ms = 1000000,
                       .beat_ms = 999900,
                       .consuming = true,
                       .assigned = 3,
                       .brokers_down = false,
                       .ckpt_max_age_ms = 180000,
                       .ckpt_fresh_ms = 990000};
}

/* The body of the answer to /healthz (ready false) or /readyz, as text
 * (free it), with its status in *status. */
static char *answer(const sr_health_t *h, bool ready, int *status) {
  sr_http_response_t res = {0};
  sr_telemetry_health(h, ready, &res);
  assert_string_equal(res.content_type, "application/json");
  *status = res.status;
  char *body = strndup(res.body.data ? res.body.data : "", res.body.len);
  sr_buf_free(&res.body);
  return body;
}

static void assert_answer(const sr_health_t *h, bool ready, int status,
                          const char *body) {
  int got = 0;
  char *text = answer(h, ready, &got);
  assert_int_equal(got, status);
  assert_string_equal(text, body);
  free(text);
}

static void test_healthz(void **state) {
  (void)state;
  sr_health_t h = healthy();
  assert_answer(&h, false, 200, "{\"status\":\"ok\"}\n");
  /* Liveness is the heartbeat alone: a daemon that is not ready is alive. */
  h.consuming = false;
  h.assigned = 0;
  h.brokers_down = true;
  assert_answer(&h, false, 200, "{\"status\":\"ok\"}\n");
  h.beat_ms = h.now_ms - SR_TELEMETRY_STALE_MS;
  assert_answer(&h, false, 200, "{\"status\":\"ok\"}\n");
  h.beat_ms = h.now_ms - SR_TELEMETRY_STALE_MS - 1;
  assert_answer(&h, false, 503, "{\"status\":\"stalled\"}\n");
}

static void test_readyz_ready(void **state) {
  (void)state;
  sr_health_t h = healthy();
  assert_answer(&h, true, 200, "{\"ready\":true}\n");
  /* A checkpoint exactly three intervals old is still fresh enough. */
  h.ckpt_fresh_ms = h.now_ms - h.ckpt_max_age_ms;
  assert_answer(&h, true, 200, "{\"ready\":true}\n");
}

/* Each fault alone makes the daemon unready and is named. */
static void test_readyz_each_reason(void **state) {
  (void)state;
  sr_health_t h;
  h = healthy();
  h.consuming = false;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"not consuming\"]}\n");
  h = healthy();
  h.assigned = 0;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"no partitions assigned\"]}\n");
  h = healthy();
  h.brokers_down = true;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"broker unreachable\"]}\n");
  h = healthy();
  h.ckpt_fresh_ms = h.now_ms - h.ckpt_max_age_ms - 1;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"last checkpoint older than "
                "3 intervals\"]}\n");
  h = healthy();
  h.beat_ms = h.now_ms - SR_TELEMETRY_STALE_MS - 1;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"event loop stalled\"]}\n");
}

/* Partitions being taken over make the daemon unready, with which ones and
 * how far the restore has read. */
static void test_readyz_restoring(void **state) {
  (void)state;
  sr_health_t h = healthy();
  h.n_restoring = 2;
  h.restoring[0] = 3;
  h.restoring[1] = 5;
  h.restore_records = 1200;
  h.restored_users = 1100;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"restoring\"],"
                "\"restoring\":{\"partitions\":[3,5],\"count\":2,"
                "\"records_read\":1200,\"users_restored\":1100}}\n");
  /* More than the health report holds: the count says how many. */
  h.n_restoring = 40;
  int status = 0;
  char *body = answer(&h, true, &status);
  assert_int_equal(status, 503);
  assert_non_null(strstr(body, "\"count\":40"));
  free(body);
  /* Once every partition is taken over, nothing is said of restores. */
  h.n_restoring = 0;
  assert_answer(&h, true, 200, "{\"ready\":true}\n");
}

static void test_readyz_all_reasons(void **state) {
  (void)state;
  sr_health_t h = healthy();
  h.consuming = false;
  h.assigned = 0;
  h.brokers_down = true;
  h.ckpt_fresh_ms = 0;
  h.beat_ms = 0;
  assert_answer(&h, true, 503,
                "{\"ready\":false,\"reasons\":[\"not consuming\",\"no "
                "partitions assigned\",\"broker unreachable\",\"last "
                "checkpoint older than 3 intervals\",\"event loop "
                "stalled\"]}\n");
}

/* The model and the telemetry under test, with what /metrics rendered. */
typedef struct fixture {
  sr_model_t *mdl;
  sr_telemetry_t *tel;
  char *text;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  sr_model_conf_t conf;
  sr_model_conf_init(&conf);
  conf.dims = 8;
  conf.max_users = 2;
  f->mdl = sr_model_new(&conf, NULL, 0);
  f->tel = f->mdl ? sr_telemetry_new(f->mdl, 3) : NULL;
  *state = f;
  return f->tel ? 0 : -1;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  free(f->text);
  sr_telemetry_free(f->tel);
  sr_model_free(f->mdl);
  free(f);
  return 0;
}

static void scrape(fixture_t *f, const sr_telemetry_totals_t *tot) {
  sr_http_response_t res = {0};
  sr_telemetry_metrics(f->tel, tot, NULL, &res);
  assert_true(res.status == 0 || res.status == 200); /* 0: the default */
  assert_string_equal(res.content_type,
                      "text/plain; version=0.0.4; charset=utf-8");
  free(f->text);
  f->text = strndup(res.body.data, res.body.len);
  sr_buf_free(&res.body);
}

/* The value of the sample written "series value" in the last scrape; fails
 * the test when the series is not there. */
static double sample(const fixture_t *f, const char *series) {
  size_t len = strlen(series);
  for (const char *line = f->text; line && *line;) {
    if (!strncmp(line, series, len) && line[len] == ' ')
      return strtod(line + len + 1, NULL);
    line = strchr(line, '\n');
    line = line ? line + 1 : NULL;
  }
  fail_msg("no sample %s in:\n%s", series, f->text);
  return -1;
}

static uint32_t learn(fixture_t *f, const char *user, const char *item) {
  sr_event_t ev = event_for(user, item, SR_EV_CLICK, 1, 1700000000000);
  sr_telemetry_event(f->tel, &ev);
  uint32_t row = 0;
  assert_int_equal(sr_model_learn(f->mdl, &ev, &row), SR_OK);
  sr_telemetry_learned(f->tel, row);
  return row;
}

/* Publishes the list of items (ids) for user_row. */
static void list(fixture_t *f, uint32_t user_row, const char *const *items,
                 size_t n) {
  sr_scored_t scored[8];
  for (size_t i = 0; i < n; i++) {
    int64_t row = sr_model_find_item(f->mdl, items[i], strlen(items[i]));
    assert_true(row >= 0);
    scored[i] = (sr_scored_t){(uint32_t)row, 1.0f - 0.1f * (float)i};
  }
  sr_telemetry_listed(f->tel, user_row, scored, n);
}

/* Every series is there before anything happened, at 0. */
static void test_metrics_start_at_zero(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  scrape(f, &tot);
  char series[128];
  for (int r = 1; r < SR_REASON__COUNT; r++) {
    snprintf(series, sizeof(series),
             "streamrec_events_rejected_total{reason=\"%s\"}",
             sr_reason_name((sr_reason_t)r));
    assert_true(sample(f, series) == 0);
  }
  assert_true(sample(f, "streamrec_updates_total") == 0);
  assert_true(sample(f, "streamrec_lists_published_total") == 0);
  assert_true(sample(f, "streamrec_prequential_hits_total") == 0);
  assert_true(sample(f, "streamrec_evictions_total{kind=\"user\"}") == 0);
  assert_true(sample(f, "streamrec_evictions_total{kind=\"item\"}") == 0);
  assert_true(sample(f, "streamrec_model_users") == 0);
  const char *dropped[] = {"idle_timeout", "evicted", "refused"};
  for (size_t i = 0; i < 3; i++) {
    snprintf(series, sizeof(series),
             "streamrec_http_connections_dropped_total{reason=\"%s\"}",
             dropped[i]);
    assert_true(sample(f, series) == 0);
  }
  /* No topic consumed yet: the labelled series is left out. */
  assert_null(strstr(f->text, "streamrec_events_consumed_total{"));
}

/* Totals kept by other modules are what the scrape shows, and a counter
 * never goes down when a total is read lower later. */
static void test_metrics_copy_totals(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  tot.rejected[SR_REASON_DECODE] = 4;
  tot.rejected[SR_REASON_TOMBSTONE] = 1;
  tot.lists_delivered = 17;
  tot.publish_errors = 2;
  tot.dead_letters = 5;
  tot.dead_letters_failed = 1;
  tot.http = (sr_http_stats_t){.open = 3, .timed_out = 6, .refused = 7};
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_events_rejected_total{reason=\"decode_"
                        "error\"}") == 4);
  assert_true(
      sample(f, "streamrec_events_rejected_total{reason=\"tombstone\"}") == 1);
  assert_true(
      sample(f, "streamrec_events_rejected_total{reason=\"empty_id\"}") == 0);
  assert_true(sample(f, "streamrec_lists_published_total") == 17);
  assert_true(sample(f, "streamrec_publish_errors_total") == 2);
  assert_true(sample(f, "streamrec_dead_letters_total") == 5);
  assert_true(sample(f, "streamrec_dead_letters_failed_total") == 1);
  assert_true(sample(f, "streamrec_http_connections") == 3);
  assert_true(sample(f, "streamrec_http_connections_dropped_total{reason="
                        "\"idle_timeout\"}") == 6);
  assert_true(sample(f, "streamrec_http_connections_dropped_total{reason="
                        "\"refused\"}") == 7);
  tot.lists_delivered = 20;
  tot.http.open = 1;
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_lists_published_total") == 20);
  assert_true(sample(f, "streamrec_http_connections") == 1);
  tot.lists_delivered = 10;
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_lists_published_total") == 20);
}

static void test_metrics_consumed_and_model(void **state) {
  fixture_t *f = *state;
  sr_telemetry_consumed(f->tel, "events");
  sr_telemetry_consumed(f->tel, "events");
  sr_telemetry_consumed(f->tel, "clicks");
  learn(f, "u1", "i1");
  learn(f, "u1", "i2");
  learn(f, "u2", "i1");
  sr_telemetry_totals_t tot = {0};
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_events_consumed_total{topic=\"events\"}") ==
              2);
  assert_true(sample(f, "streamrec_events_consumed_total{topic=\"clicks\"}") ==
              1);
  assert_true(sample(f, "streamrec_updates_total") == 3);
  assert_true(sample(f, "streamrec_model_users") == 2);
  assert_true(sample(f, "streamrec_model_items") == 2);
  assert_true(sample(f, "streamrec_model_bytes") ==
              (double)sr_model_bytes(f->mdl));
  /* max_users is 2: a third user evicts the least recently active. */
  learn(f, "u3", "i3");
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_evictions_total{kind=\"user\"}") == 1);
  assert_true(sample(f, "streamrec_model_users") == 2);
}

/* An event is scored against the list last published for its user: a hit
 * when its item is in it; users without a list are not evaluated. */
static void test_prequential_hits(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  uint32_t u1 = learn(f, "u1", "i1");
  learn(f, "u1", "i2");
  learn(f, "u1", "i3");
  learn(f, "u1", "i4");
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_prequential_evaluated_total") == 0);
  const char *items[] = {"i2", "i3"};
  list(f, u1, items, 2);
  learn(f, "u1", "i3"); /* hit */
  learn(f, "u1", "i1"); /* miss */
  learn(f, "u1", "i2"); /* hit */
  learn(f, "u2", "i2"); /* no list: not evaluated */
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_prequential_evaluated_total") == 3);
  assert_true(sample(f, "streamrec_prequential_hits_total") == 2);
  /* A newer list replaces the old one. */
  const char *newer[] = {"i4"};
  list(f, u1, newer, 1);
  learn(f, "u1", "i2");
  learn(f, "u1", "i4");
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_prequential_evaluated_total") == 5);
  assert_true(sample(f, "streamrec_prequential_hits_total") == 3);
}

/* Only the first list_n items (3 here) of a list are remembered. */
static void test_prequential_list_n(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  const char *items[] = {"a", "b", "c", "d", "e"};
  uint32_t u1 = 0;
  for (size_t i = 0; i < 5; i++)
    u1 = learn(f, "u1", items[i]);
  list(f, u1, items, 5);
  learn(f, "u1", "d");
  learn(f, "u1", "c");
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_prequential_evaluated_total") == 2);
  assert_true(sample(f, "streamrec_prequential_hits_total") == 1);
}

/* A row taken over by another user after an eviction does not score the
 * newcomer against the evicted user's list. */
static void test_evicted_row_forgotten(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  uint32_t u1 = learn(f, "u1", "i1");
  learn(f, "u2", "i1");
  const char *items[] = {"i1"};
  list(f, u1, items, 1);
  learn(f, "u2", "i1"); /* u2 is now more recent than u1 */
  uint32_t u3 = learn(f, "u3", "i1");
  assert_int_equal(u3, u1); /* u1 evicted, its row reused */
  learn(f, "u3", "i1");
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_prequential_evaluated_total") == 0);
  assert_true(sample(f, "streamrec_prequential_hits_total") == 0);
}

static void add_row(void *opaque, uint32_t row) {
  uint32_t *rows = opaque;
  rows[rows[0]++ + 1] = row;
}

/* The holders of an item are the users whose last list held it: a newer
 * list without it, or a row taken over by another user, holds it no more.
 * The items topic's metrics appear once enabled and copy the totals. */
static void test_holders_and_takedown_metrics(void **state) {
  fixture_t *f = *state;
  uint32_t u1 = learn(f, "u1", "a"), u2 = learn(f, "u2", "b");
  learn(f, "u1", "c");
  const char *ab[] = {"a", "b"}, *bc[] = {"b", "c"}, *c[] = {"c"};
  list(f, u1, ab, 2);
  list(f, u2, bc, 2);
  uint32_t rows[4] = {0};
  assert_int_equal(sr_telemetry_holders(f->tel, "b", 1, add_row, rows), 2);
  assert_int_equal(rows[0], 2);
  assert_int_equal(rows[1], u1);
  assert_int_equal(rows[2], u2);
  rows[0] = 0;
  assert_int_equal(sr_telemetry_holders(f->tel, "a", 1, add_row, rows), 1);
  assert_int_equal(rows[1], u1);
  list(f, u1, c, 1);
  rows[0] = 0;
  assert_int_equal(sr_telemetry_holders(f->tel, "a", 1, add_row, rows), 0);
  assert_int_equal(sr_telemetry_holders(f->tel, "x", 1, add_row, rows), 0);
  sr_telemetry_totals_t tot = {
      .items_applied = 7, .items_unavailable = 2, .takedown_refreshes = 5};
  scrape(f, &tot);
  assert_null(strstr(f->text, "streamrec_takedown_refreshes_total"));
  assert_int_equal(sr_telemetry_enable_catalogue(f->tel), 0);
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_items_applied_total") == 7);
  assert_true(sample(f, "streamrec_items_unavailable") == 2);
  assert_true(sample(f, "streamrec_takedown_refreshes_total") == 5);
}

/* From an event's receipt to its list's delivery, observed once per list
 * delivered; a delivery with no list in flight observes nothing. */
static void test_refresh_latency(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  uint32_t u1 = learn(f, "u1", "i1");
  learn(f, "u1", "i2");
  sr_telemetry_delivered(f->tel, u1);
  sr_telemetry_delivered(f->tel, 12345);
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_refresh_latency_seconds_count") == 0);
  const char *items[] = {"i2"};
  list(f, u1, items, 1);
  sr_telemetry_delivered(f->tel, u1);
  sr_telemetry_delivered(f->tel, u1);
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_refresh_latency_seconds_count") == 1);
  double secs = sample(f, "streamrec_refresh_latency_seconds_sum");
  assert_true(secs >= 0 && secs < 5);
  assert_true(
      sample(f, "streamrec_refresh_latency_seconds_bucket{le=\"+Inf\"}") == 1);
}

static void test_checkpoint_and_stall(void **state) {
  fixture_t *f = *state;
  sr_telemetry_totals_t tot = {0};
  sr_telemetry_checkpoint(f->tel, false, 0.3);
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_checkpoint_duration_seconds_count") == 1);
  assert_true(
      sample(f, "streamrec_checkpoint_last_success_timestamp_seconds") == 0);
  double before = (double)sr_now_ms() / 1000.0;
  sr_telemetry_checkpoint(f->tel, true, 0.02);
  double after = (double)sr_now_ms() / 1000.0;
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_checkpoint_duration_seconds_count") == 2);
  assert_true(sample(f, "streamrec_checkpoint_duration_seconds_bucket{le="
                        "\"0.025\"}") == 1);
  double last =
      sample(f, "streamrec_checkpoint_last_success_timestamp_seconds");
  /* Rendered with limited precision: within a second of the time taken. */
  assert_true(last >= before - 1 && last <= after + 1);
  sr_telemetry_loop_busy(f->tel, 0.001);
  sr_telemetry_loop_busy(f->tel, 0.002);
  scrape(f, &tot);
  assert_true(sample(f, "streamrec_loop_stall_seconds_count") == 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_healthz),
      cmocka_unit_test(test_readyz_ready),
      cmocka_unit_test(test_readyz_each_reason),
      cmocka_unit_test(test_readyz_restoring),
      cmocka_unit_test(test_readyz_all_reasons),
      cmocka_unit_test_setup_teardown(test_metrics_start_at_zero, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_metrics_copy_totals, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_metrics_consumed_and_model, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_prequential_hits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prequential_list_n, setup, teardown),
      cmocka_unit_test_setup_teardown(test_evicted_row_forgotten, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_holders_and_takedown_metrics, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_refresh_latency, setup, teardown),
      cmocka_unit_test_setup_teardown(test_checkpoint_and_stall, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
