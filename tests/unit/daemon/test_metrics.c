/* Tests of the Prometheus registry: what a scrape returns, byte for byte,
 * for labelled counters, gauges and histograms, and that label values a
 * user controls (topic names) cannot break the exposition format. */
#include "daemon/metrics.h"
#include "util/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

/* Renders reg and compares with want. */
static void assert_render(const sr_metrics_t *reg, const char *want) {
  sr_buf_t out = {0};
  assert_int_equal(sr_metrics_render(reg, &out), 0);
  assert_int_equal(sr_buf_append(&out, "", 1), 0);
  assert_string_equal(out.data, want);
  sr_buf_free(&out);
}

static void test_counter_with_labels(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *consumed = sr_metrics_counter(
      reg, "streamrec_events_consumed_total", "Events read.", "topic", NULL);
  sr_metric_t *updates = sr_metrics_counter(reg, "streamrec_updates_total",
                                            "Model updates.", NULL, NULL);
  sr_metric_t *lag = sr_metrics_gauge(reg, "streamrec_consumer_lag",
                                      "Messages behind the high watermark.",
                                      "topic", "partition");
  assert_non_null(consumed);
  assert_non_null(updates);
  assert_non_null(lag);
  assert_int_equal(sr_metrics_add(consumed, "events", NULL, 1), 0);
  assert_int_equal(sr_metrics_add(consumed, "clicks", NULL, 2), 0);
  assert_int_equal(sr_metrics_add(consumed, "events", NULL, 4), 0);
  assert_int_equal(sr_metrics_set(lag, "events", "0", 12), 0);
  assert_int_equal(sr_metrics_set(lag, "events", "1", 3), 0);
  assert_int_equal(sr_metrics_set(lag, "events", "0", 7), 0);
  assert_true(sr_metrics_value(consumed, "events", NULL) == 5);
  assert_true(sr_metrics_value(consumed, "absent", NULL) == 0);

  /* Series appear in creation order; the unlabelled counter shows 0
   * before its first update. */
  assert_render(reg, "# HELP streamrec_events_consumed_total Events read.\n"
                     "# TYPE streamrec_events_consumed_total counter\n"
                     "streamrec_events_consumed_total{topic=\"events\"} 5\n"
                     "streamrec_events_consumed_total{topic=\"clicks\"} 2\n"
                     "# HELP streamrec_updates_total Model updates.\n"
                     "# TYPE streamrec_updates_total counter\n"
                     "streamrec_updates_total 0\n"
                     "# HELP streamrec_consumer_lag Messages behind the high "
                     "watermark.\n"
                     "# TYPE streamrec_consumer_lag gauge\n"
                     "streamrec_consumer_lag{topic=\"events\",partition=\"0\"} "
                     "7\n"
                     "streamrec_consumer_lag{topic=\"events\",partition=\"1\"} "
                     "3\n");
  sr_metrics_free(reg);
}

static void test_gauge_values(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *users =
      sr_metrics_gauge(reg, "streamrec_model_users", "Users.", NULL, NULL);
  sr_metric_t *ts = sr_metrics_gauge(
      reg, "streamrec_checkpoint_last_success_timestamp_seconds",
      "Unix time of the last checkpoint.", NULL, NULL);
  assert_int_equal(sr_metrics_set(users, NULL, NULL, 1500000), 0);
  assert_int_equal(sr_metrics_add(users, NULL, NULL, -1), 0);
  assert_int_equal(sr_metrics_set(ts, NULL, NULL, 1700000000.125), 0);
  assert_render(reg,
                "# HELP streamrec_model_users Users.\n"
                "# TYPE streamrec_model_users gauge\n"
                "streamrec_model_users 1499999\n"
                "# HELP streamrec_checkpoint_last_success_timestamp_seconds "
                "Unix time of the last checkpoint.\n"
                "# TYPE streamrec_checkpoint_last_success_timestamp_seconds "
                "gauge\n"
                "streamrec_checkpoint_last_success_timestamp_seconds "
                "1700000000.125\n");
  sr_metrics_free(reg);
}

static void test_histogram_buckets(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *lat = sr_metrics_histogram(
      reg, "streamrec_refresh_latency_seconds",
      "Event received to list delivered.", NULL, 0, NULL, NULL);
  assert_non_null(lat);
  /* A bound is inclusive: 0.001 counts in le="0.001". */
  const double obs[] = {0.0001, 0.001, 0.003, 0.2, 0.2, 4, 60};
  for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
    assert_int_equal(sr_metrics_observe(lat, NULL, NULL, obs[i]), 0);
  assert_true(sr_metrics_value(lat, NULL, NULL) == 7);
  const char *name = "streamrec_refresh_latency_seconds";
  char want[4096];
  snprintf(want, sizeof(want),
           "# HELP %s Event received to list delivered.\n"
           "# TYPE %s histogram\n"
           "%s_bucket{le=\"0.0005\"} 1\n"
           "%s_bucket{le=\"0.001\"} 2\n"
           "%s_bucket{le=\"0.0025\"} 2\n"
           "%s_bucket{le=\"0.005\"} 3\n"
           "%s_bucket{le=\"0.01\"} 3\n"
           "%s_bucket{le=\"0.025\"} 3\n"
           "%s_bucket{le=\"0.05\"} 3\n"
           "%s_bucket{le=\"0.1\"} 3\n"
           "%s_bucket{le=\"0.25\"} 5\n"
           "%s_bucket{le=\"0.5\"} 5\n"
           "%s_bucket{le=\"1\"} 5\n"
           "%s_bucket{le=\"2.5\"} 5\n"
           "%s_bucket{le=\"5\"} 6\n"
           "%s_bucket{le=\"10\"} 6\n"
           "%s_bucket{le=\"+Inf\"} 7\n"
           "%s_sum 64.4041\n"
           "%s_count 7\n",
           name, name, name, name, name, name, name, name, name, name, name,
           name, name, name, name, name, name, name, name);
  assert_render(reg, want);
  sr_metrics_free(reg);
}

static void test_labelled_histogram(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  const double bounds[] = {0.5, 2};
  sr_metric_t *h = sr_metrics_histogram(reg, "job_seconds", "Job time.", bounds,
                                        2, "kind", NULL);
  /* No series yet: a labelled family is left out of the scrape. */
  assert_render(reg, "");
  assert_int_equal(sr_metrics_observe(h, "full", NULL, 1), 0);
  assert_int_equal(sr_metrics_observe(h, "full", NULL, 3), 0);
  assert_render(reg, "# HELP job_seconds Job time.\n"
                     "# TYPE job_seconds histogram\n"
                     "job_seconds_bucket{kind=\"full\",le=\"0.5\"} 0\n"
                     "job_seconds_bucket{kind=\"full\",le=\"2\"} 1\n"
                     "job_seconds_bucket{kind=\"full\",le=\"+Inf\"} 2\n"
                     "job_seconds_sum{kind=\"full\"} 4\n"
                     "job_seconds_count{kind=\"full\"} 2\n");
  sr_metrics_reset(h);
  assert_render(reg, "");
  sr_metrics_free(reg);
}

static void test_label_and_help_escaping(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *m = sr_metrics_counter(
      reg, "odd_total", "Help with \\ and\nnewline \"as is\".", "topic", NULL);
  assert_int_equal(sr_metrics_add(m, "a\\b\"c\nd", NULL, 1), 0);
  assert_render(reg, "# HELP odd_total Help with \\\\ and\\nnewline "
                     "\"as is\".\n"
                     "# TYPE odd_total counter\n"
                     "odd_total{topic=\"a\\\\b\\\"c\\nd\"} 1\n");
  sr_metrics_free(reg);
}

/* Many series keep their own values through the hash table's growth, and
 * a reset drops them so revoked partitions stop being reported. */
static void test_many_series_and_reset(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *lag = sr_metrics_gauge(reg, "lag", "Lag.", "topic", "partition");
  char part[16];
  for (int round = 0; round < 3; round++) {
    for (int p = 0; p < 1000; p++) {
      snprintf(part, sizeof(part), "%d", p);
      assert_int_equal(sr_metrics_add(lag, "t", part, p), 0);
    }
  }
  for (int p = 0; p < 1000; p++) {
    snprintf(part, sizeof(part), "%d", p);
    assert_true(sr_metrics_value(lag, "t", part) == 3.0 * p);
  }
  /* ("ab","c") and ("a","bc") are different series. */
  assert_int_equal(sr_metrics_set(lag, "ab", "c", 1), 0);
  assert_int_equal(sr_metrics_set(lag, "a", "bc", 2), 0);
  assert_true(sr_metrics_value(lag, "ab", "c") == 1);
  assert_true(sr_metrics_value(lag, "a", "bc") == 2);
  sr_metrics_reset(lag);
  assert_true(sr_metrics_value(lag, "t", "5") == 0);
  assert_int_equal(sr_metrics_set(lag, "t", "9", 4), 0);
  assert_render(reg, "# HELP lag Lag.\n"
                     "# TYPE lag gauge\n"
                     "lag{topic=\"t\",partition=\"9\"} 4\n");
  sr_metrics_free(reg);
}

static void test_float_formatting(void **state) {
  (void)state;
  sr_metrics_t *reg = sr_metrics_new();
  sr_metric_t *g = sr_metrics_gauge(reg, "g", "G.", "v", NULL);
  sr_metrics_set(g, "tenth", NULL, 0.1);
  sr_metrics_set(g, "big", NULL, 1e21);
  sr_metrics_set(g, "inf", NULL, 1.0 / 0.0);
  sr_metrics_set(g, "nan", NULL, 0.0 / 0.0);
  assert_render(reg, "# HELP g G.\n# TYPE g gauge\n"
                     "g{v=\"tenth\"} 0.1\n"
                     "g{v=\"big\"} 1e+21\n"
                     "g{v=\"inf\"} +Inf\n"
                     "g{v=\"nan\"} NaN\n");
  sr_metrics_free(reg);
  sr_metrics_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_counter_with_labels),
      cmocka_unit_test(test_gauge_values),
      cmocka_unit_test(test_histogram_buckets),
      cmocka_unit_test(test_labelled_histogram),
      cmocka_unit_test(test_label_and_help_escaping),
      cmocka_unit_test(test_many_series_and_reset),
      cmocka_unit_test(test_float_formatting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
