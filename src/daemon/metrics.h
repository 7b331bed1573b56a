/* A small Prometheus registry: counters, gauges and fixed-bucket histograms,
 * each with up to two labels, rendered in the text exposition format 0.0.4.
 * The registry owns its metrics and their series; an sr_metric_t stays valid
 * until sr_metrics_free. Not thread-safe: only the loop thread creates,
 * updates and renders. Names are checked when a metric is registered;
 * label values may be anything and are escaped when rendered. Using a
 * metric with the wrong number of label values or the wrong kind of update
 * is a bug, caught by assert. */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include "streamrec/common.h"
#include "util/buf.h"

#include <stddef.h>

/* Most labels one metric may have. */
#define SR_METRICS_MAX_LABELS 2

/* Content-Type of sr_metrics_render's output. */
#define SR_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

typedef struct sr_metrics sr_metrics_t;
typedef struct sr_metric sr_metric_t;

/* Empty registry, or NULL when out of memory. */
sr_metrics_t *sr_metrics_new(void);

/* Releases the registry and every metric in it; accepts NULL. */
void sr_metrics_free(sr_metrics_t *reg);

/* Registers a counter named name (conventionally ending in _total) with
 * label names label0 and label1, each NULL when unused (label1 only with
 * label0). Returns NULL when a name is invalid for Prometheus or already
 * registered, or when out of memory. */
sr_metric_t *sr_metrics_counter(sr_metrics_t *reg, const char *name,
                                const char *help, const char *label0,
                                const char *label1);

/* Registers a gauge; arguments as for sr_metrics_counter. */
sr_metric_t *sr_metrics_gauge(sr_metrics_t *reg, const char *name,
                              const char *help, const char *label0,
                              const char *label1);

/* Registers a histogram with n_bounds strictly increasing finite upper
 * bounds; bounds NULL picks the latency buckets 0.0005 s ... 10 s. +Inf is
 * implicit; "le" cannot be a label. Returns NULL as sr_metrics_counter
 * does, or when the bounds are not increasing and finite. */
sr_metric_t *sr_metrics_histogram(sr_metrics_t *reg, const char *name,
                                  const char *help, const double *bounds,
                                  size_t n_bounds, const char *label0,
                                  const char *label1);

/* Adds value (>= 0 for counters, any sign for gauges) to the series with
 * label values v0, v1 (NULL where the metric has fewer labels), creating it
 * at 0 first. Returns 0, or -1 when out of memory. */
int sr_metrics_add(sr_metric_t *m, const char *v0, const char *v1,
                   double value);

/* Sets a gauge's series to value, creating it. Returns 0 or -1 (memory). */
int sr_metrics_set(sr_metric_t *m, const char *v0, const char *v1,
                   double value);

/* Records one observation in a histogram's series. Returns 0 or -1. */
int sr_metrics_observe(sr_metric_t *m, const char *v0, const char *v1,
                       double value);

/* Current value of a counter's or gauge's series (a histogram's count),
 * 0 when the series does not exist. */
double sr_metrics_value(const sr_metric_t *m, const char *v0, const char *v1);

/* Drops every series of a labelled metric, e.g. the lag of partitions that
 * a rebalance took away; a metric without labels is reset to 0. */
void sr_metrics_reset(sr_metric_t *m);

/* Appends the whole registry to out in registration order, series in
 * creation order. A labelled metric with no series yet is left out, as
 * client libraries do. Returns 0, or -1 when out of memory. */
int sr_metrics_render(const sr_metrics_t *reg, sr_buf_t *out);

#endif
