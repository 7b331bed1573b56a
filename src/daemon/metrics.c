/* Prometheus registry: metrics in a registration-ordered list, each holding
 * its series in a creation-ordered array indexed by a chained hash of the
 * label values, so an update costs one hash and usually one comparison. */
#include "daemon/metrics.h"
#include "util/buf.h"
#include "util/grow.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM } kind_t;

typedef struct series {
  char *values;      /* "v0\0v1\0"; NULL for a metric without labels */
  uint32_t hash;     /* of the label values */
  uint32_t next;     /* index + 1 of the next series in this hash chain */
  double value;      /* counter or gauge value; a histogram's sum */
  uint64_t count;    /* histogram observations */
  uint64_t *buckets; /* histogram: n_bounds + 1 per-bucket counts */
} series_t;

struct sr_metric {
  sr_metric_t *next; /* registration order */
  kind_t kind;
  char *name;
  char *help;
  char *labels[SR_METRICS_MAX_LABELS];
  int n_labels;
  double *bounds;
  size_t n_bounds;
  series_t *ser;
  uint32_t n_ser;
  size_t cap_ser;
  uint32_t *heads; /* index + 1 of each chain's first series; 0 = empty */
  uint32_t n_heads;
};

struct sr_metrics {
  sr_metric_t *head;
  sr_metric_t *tail;
};

static const double default_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,  0.1,    0.25,  0.5,
                                        1,      2.5,   5,      10};

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

sr_metrics_t *sr_metrics_new(void) {
  return calloc(1, sizeof(sr_metrics_t));
}

static void series_release(series_t *s) {
  free(s->values);
  free(s->buckets);
}

static void metric_free(sr_metric_t *m) {
  if (!m)
    return;
  for (uint32_t i = 0; i < m->n_ser; i++)
    series_release(&m->ser[i]);
  free(m->ser);
  free(m->heads);
  free(m->bounds);
  for (int i = 0; i < SR_METRICS_MAX_LABELS; i++)
    free(m->labels[i]);
  free(m->name);
  free(m->help);
  free(m);
}

void sr_metrics_free(sr_metrics_t *reg) {
  if (!reg)
    return;
  sr_metric_t *m = reg->head;
  while (m) {
    sr_metric_t *next = m->next;
    metric_free(m);
    m = next;
  }
  free(reg);
}

/* A bad name would make Prometheus reject the whole scrape, so it is
 * refused at registration rather than discovered at the first scrape. */
static int valid_name(const char *name, int colon_ok) {
  if (!name || !*name || isdigit((unsigned char)name[0]))
    return 0;
  for (const char *p = name; *p; p++) {
    if (!isalnum((unsigned char)*p) && *p != '_' && !(colon_ok && *p == ':'))
      return 0;
  }
  return 1;
}

static sr_metric_t *registry_find(const sr_metrics_t *reg, const char *name) {
  for (sr_metric_t *m = reg->head; m; m = m->next) {
    if (strcmp(m->name, name) == 0)
      return m;
  }
  return NULL;
}

static uint64_t *buckets_new(const sr_metric_t *m) {
  return calloc(m->n_bounds + 1, sizeof(uint64_t));
}

/* A metric without labels has its only series from the start, so it is
 * rendered (at 0) before its first update, as client libraries do. */
static int metric_init_plain(sr_metric_t *m) {
  m->ser = calloc(1, sizeof(series_t));
  if (!m->ser)
    return -1;
  m->n_ser = m->cap_ser = 1;
  if (m->kind == KIND_HISTOGRAM && !(m->ser[0].buckets = buckets_new(m)))
    return -1;
  return 0;
}

static int valid_labels(kind_t kind, const char *label0, const char *label1) {
  const char *names[SR_METRICS_MAX_LABELS] = {label0, label1};
  if (!label0 && label1)
    return 0;
  for (int i = 0; i < SR_METRICS_MAX_LABELS && names[i]; i++) {
    if (!valid_name(names[i], 0) || strncmp(names[i], "__", 2) == 0 ||
        (kind == KIND_HISTOGRAM && strcmp(names[i], "le") == 0))
      return 0;
  }
  return !label1 || strcmp(label0, label1) != 0;
}

static int valid_bounds(const double *bounds, size_t n_bounds) {
  for (size_t i = 0; bounds && i < n_bounds; i++) {
    if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
      return 0;
  }
  return !bounds || n_bounds > 0;
}

static int metric_init_labels(sr_metric_t *m, const char *label0,
                              const char *label1) {
  const char *names[SR_METRICS_MAX_LABELS] = {label0, label1};
  for (int i = 0; i < SR_METRICS_MAX_LABELS && names[i]; i++) {
    if (!(m->labels[i] = strdup(names[i])))
      return -1;
    m->n_labels++;
  }
  if (m->n_labels == 0)
    return metric_init_plain(m);
  m->n_heads = 8;
  m->heads = calloc(m->n_heads, sizeof(uint32_t));
  return m->heads ? 0 : -1;
}

static int metric_init_bounds(sr_metric_t *m, const double *bounds,
                              size_t n_bounds) {
  if (!bounds) {
    bounds = default_bounds;
    n_bounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
  }
  m->bounds = malloc(n_bounds * sizeof(double));
  if (!m->bounds)
    return -1;
  memcpy(m->bounds, bounds, n_bounds * sizeof(double));
  m->n_bounds = n_bounds;
  return 0;
}

static sr_metric_t *metric_register(sr_metrics_t *reg, kind_t kind,
                                    const char *name, const char *help,
                                    const double *bounds, size_t n_bounds,
                                    const char *label0, const char *label1) {
  assert(help);
  if (!valid_name(name, 1) || registry_find(reg, name) ||
      !valid_labels(kind, label0, label1) ||
      (kind == KIND_HISTOGRAM && !valid_bounds(bounds, n_bounds)))
    return NULL;
  sr_metric_t *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->kind = kind;
  if (!(m->name = strdup(name)) || !(m->help = strdup(help)))
    goto fail;
  if (kind == KIND_HISTOGRAM && metric_init_bounds(m, bounds, n_bounds) != 0)
    goto fail;
  if (metric_init_labels(m, label0, label1) != 0)
    goto fail;
  if (reg->tail)
    reg->tail->next = m;
  else
    reg->head = m;
  reg->tail = m;
  return m;
fail:
  metric_free(m);
  return NULL;
}

sr_metric_t *sr_metrics_counter(sr_metrics_t *reg, const char *name,
                                const char *help, const char *label0,
                                const char *label1) {
  return metric_register(reg, KIND_COUNTER, name, help, NULL, 0, label0,
                         label1);
}

sr_metric_t *sr_metrics_gauge(sr_metrics_t *reg, const char *name,
                              const char *help, const char *label0,
                              const char *label1) {
  return metric_register(reg, KIND_GAUGE, name, help, NULL, 0, label0, label1);
}

sr_metric_t *sr_metrics_histogram(sr_metrics_t *reg, const char *name,
                                  const char *help, const double *bounds,
                                  size_t n_bounds, const char *label0,
                                  const char *label1) {
  return metric_register(reg, KIND_HISTOGRAM, name, help, bounds, n_bounds,
                         label0, label1);
}

/* FNV-1a over both values; the separator keeps ("ab","c") apart from
 * ("a","bc"). */
static uint32_t hash_values(const char *v0, const char *v1) {
  uint32_t h = 2166136261u;
  for (const char *p = v0; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ 0xffu) * 16777619u;
  for (const char *p = v1 ? v1 : ""; *p; p++)
    h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

static int values_equal(const sr_metric_t *m, const series_t *s, const char *v0,
                        const char *v1) {
  if (strcmp(s->values, v0) != 0)
    return 0;
  return m->n_labels < 2 || strcmp(s->values + strlen(v0) + 1, v1) == 0;
}

static void check_values(const sr_metric_t *m, const char *v0, const char *v1) {
  (void)m, (void)v0, (void)v1;
  assert((m->n_labels >= 1) == (v0 != NULL));
  assert((m->n_labels == 2) == (v1 != NULL));
}

static series_t *series_find(const sr_metric_t *m, const char *v0,
                             const char *v1, uint32_t hash) {
  if (m->n_labels == 0)
    return &m->ser[0];
  for (uint32_t i = m->heads[hash & (m->n_heads - 1)]; i;
       i = m->ser[i - 1].next) {
    series_t *s = &m->ser[i - 1];
    if (s->hash == hash && values_equal(m, s, v0, v1))
      return s;
  }
  return NULL;
}

static void chain_insert(sr_metric_t *m, uint32_t idx) {
  uint32_t *head = &m->heads[m->ser[idx].hash & (m->n_heads - 1)];
  m->ser[idx].next = *head;
  *head = idx + 1;
}

/* Keeps chains short: one head per series. */
static int heads_grow(sr_metric_t *m) {
  uint32_t n_heads = m->n_heads * 2;
  uint32_t *heads = calloc(n_heads, sizeof(uint32_t));
  if (!heads)
    return -1;
  free(m->heads);
  m->heads = heads;
  m->n_heads = n_heads;
  for (uint32_t i = 0; i < m->n_ser; i++)
    chain_insert(m, i);
  return 0;
}

static int series_reserve(sr_metric_t *m) {
  if (SR_GROW(m->ser, m->cap_ser, (size_t)m->n_ser + 1, 8) != 0)
    return -1;
  if (m->n_ser >= m->n_heads && heads_grow(m) != 0)
    return -1;
  return 0;
}

static char *values_dup(const char *v0, const char *v1) {
  size_t n0 = strlen(v0) + 1, n1 = v1 ? strlen(v1) + 1 : 0;
  char *values = malloc(n0 + n1);
  if (!values)
    return NULL;
  memcpy(values, v0, n0);
  if (v1)
    memcpy(values + n0, v1, n1);
  return values;
}

static series_t *series_create(sr_metric_t *m, const char *v0, const char *v1,
                               uint32_t hash) {
  if (series_reserve(m) != 0)
    return NULL;
  series_t s = {.hash = hash};
  if (!(s.values = values_dup(v0, v1)))
    return NULL;
  if (m->kind == KIND_HISTOGRAM && !(s.buckets = buckets_new(m))) {
    free(s.values);
    return NULL;
  }
  m->ser[m->n_ser] = s;
  chain_insert(m, m->n_ser);
  return &m->ser[m->n_ser++];
}

static series_t *series_get(sr_metric_t *m, const char *v0, const char *v1) {
  check_values(m, v0, v1);
  uint32_t hash = m->n_labels ? hash_values(v0, v1) : 0;
  series_t *s = series_find(m, v0, v1, hash);
  return s ? s : series_create(m, v0, v1, hash);
}

int sr_metrics_add(sr_metric_t *m, const char *v0, const char *v1,
                   double value) {
  assert(m->kind != KIND_HISTOGRAM);
  assert(m->kind != KIND_COUNTER || !(value < 0));
  series_t *s = series_get(m, v0, v1);
  if (!s)
    return -1;
  s->value += value;
  return 0;
}

int sr_metrics_set(sr_metric_t *m, const char *v0, const char *v1,
                   double value) {
  assert(m->kind == KIND_GAUGE);
  series_t *s = series_get(m, v0, v1);
  if (!s)
    return -1;
  s->value = value;
  return 0;
}

int sr_metrics_observe(sr_metric_t *m, const char *v0, const char *v1,
                       double value) {
  assert(m->kind == KIND_HISTOGRAM);
  series_t *s = series_get(m, v0, v1);
  if (!s)
    return -1;
  /* Buckets are "less than or equal"; NaN fails every test and lands in
   * +Inf only, as in the reference client. */
  size_t i = 0;
  while (i < m->n_bounds && !(value <= m->bounds[i]))
    i++;
  s->buckets[i]++;
  s->count++;
  s->value += value;
  return 0;
}

double sr_metrics_value(const sr_metric_t *m, const char *v0, const char *v1) {
  check_values(m, v0, v1);
  uint32_t hash = m->n_labels ? hash_values(v0, v1) : 0;
  const series_t *s = series_find(m, v0, v1, hash);
  if (!s)
    return 0;
  return m->kind == KIND_HISTOGRAM ? (double)s->count : s->value;
}

void sr_metrics_reset(sr_metric_t *m) {
  if (m->n_labels == 0) {
    series_t *s = &m->ser[0];
    s->value = 0;
    s->count = 0;
    if (s->buckets)
      memset(s->buckets, 0, (m->n_bounds + 1) * sizeof(uint64_t));
    return;
  }
  for (uint32_t i = 0; i < m->n_ser; i++)
    series_release(&m->ser[i]);
  m->n_ser = 0;
  memset(m->heads, 0, m->n_heads * sizeof(uint32_t));
}

/* Shortest decimal that reads back as the same double, so 0.1 prints as
 * "0.1" and counters as integers; Prometheus spells infinities +Inf/-Inf.
 * Returns tmp. */
static const char *fmt_double(char tmp[32], double v) {
  if (isnan(v))
    return strcpy(tmp, "NaN");
  if (isinf(v))
    return strcpy(tmp, v > 0 ? "+Inf" : "-Inf");
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, 32, "%.*g", prec, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  return tmp;
}

/* HELP text escapes backslash and newline; label values also the quote. */
static int put_escaped(sr_buf_t *out, const char *s, int quote) {
  int err = 0;
  for (const char *p = s; *p && !err; p++) {
    if (*p == '\\')
      err = sr_buf_append(out, "\\\\", 2);
    else if (*p == '\n')
      err = sr_buf_append(out, "\\n", 2);
    else if (*p == '"' && quote)
      err = sr_buf_append(out, "\\\"", 2);
    else
      err = sr_buf_append(out, p, 1);
  }
  return err;
}

/* Writes {l0="v0",l1="v1",le="bound"}, or nothing when there is no label;
 * le is NULL except for histogram buckets. */
static int put_labels(sr_buf_t *out, const sr_metric_t *m, const series_t *s,
                      const char *le) {
  if (m->n_labels == 0 && !le)
    return 0;
  int err = sr_buf_append(out, "{", 1);
  const char *value = s->values;
  for (int i = 0; i < m->n_labels; i++) {
    err |= sr_buf_printf(out, "%s%s=\"", i ? "," : "", m->labels[i]);
    err |= put_escaped(out, value, 1);
    err |= sr_buf_append(out, "\"", 1);
    value += strlen(value) + 1;
  }
  if (le)
    err |= sr_buf_printf(out, "%sle=\"%s\"", m->n_labels ? "," : "", le);
  return err | sr_buf_append(out, "}", 1);
}

static int put_sample(sr_buf_t *out, const sr_metric_t *m, const series_t *s,
                      const char *suffix, const char *le, double v) {
  char tmp[32];
  int err = sr_buf_printf(out, "%s%s", m->name, suffix);
  err |= put_labels(out, m, s, le);
  return err | sr_buf_printf(out, " %s\n", fmt_double(tmp, v));
}

static int put_histogram(sr_buf_t *out, const sr_metric_t *m,
                         const series_t *s) {
  int err = 0;
  uint64_t cumulative = 0;
  char le[32];
  for (size_t i = 0; i <= m->n_bounds; i++) {
    cumulative += s->buckets[i];
    fmt_double(le, i < m->n_bounds ? m->bounds[i] : INFINITY);
    err |= put_sample(out, m, s, "_bucket", le, (double)cumulative);
  }
  err |= put_sample(out, m, s, "_sum", NULL, s->value);
  return err | put_sample(out, m, s, "_count", NULL, (double)s->count);
}

static int put_metric(sr_buf_t *out, const sr_metric_t *m) {
  if (m->n_ser == 0)
    return 0;
  int err = sr_buf_printf(out, "# HELP %s ", m->name);
  err |= put_escaped(out, m->help, 0);
  err |= sr_buf_printf(out, "\n# TYPE %s %s\n", m->name, kind_names[m->kind]);
  for (uint32_t i = 0; i < m->n_ser; i++) {
    const series_t *s = &m->ser[i];
    if (m->kind == KIND_HISTOGRAM)
      err |= put_histogram(out, m, s);
    else
      err |= put_sample(out, m, s, "", NULL, s->value);
  }
  return err;
}

int sr_metrics_render(const sr_metrics_t *reg, sr_buf_t *out) {
  int err = 0;
  for (const sr_metric_t *m = reg->head; m && !err; m = m->next)
    err = put_metric(out, m);
  return err ? -1 : 0;
}
