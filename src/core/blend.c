/* The online choice of a blend; see blend.h. */
#include "core/blend.h"

#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The built-in set. The normalisations are the two the streams measured
 * disagree on: streams with long, stable histories want the candidate's
 * count to weigh (beta 0.5), MovieTweetings wants it not to (beta 0). The
 * weights go from factor-led (0.3, best on MovieTweetings) to
 * co-occurrence-led (3). The first is the best fixed blend on average and
 * leads until another has more hits. */
static const float AUTO_ALPHA[] = {0.3f, 0.5f};
static const float AUTO_BETA[] = {0.5f, 0.0f};
static const sr_blend_config_t AUTO[] = {
    {0, 0.3f}, {1, 0.3f}, {0, 1.0f}, {1, 1.0f}, {0, 3.0f}, {1, 3.0f},
};
#define N_AUTO (sizeof(AUTO) / sizeof(AUTO[0]))
#define N_AUTO_NORMS (sizeof(AUTO_ALPHA) / sizeof(AUTO_ALPHA[0]))

_Static_assert(N_AUTO <= SR_BLEND_MAX, "configurations fit");
_Static_assert(N_AUTO_NORMS <= SR_COOC_NORMS, "normalisations fit");

void sr_blend_init(sr_blend_t *bl, const sr_model_conf_t *conf) {
  memset(bl, 0, sizeof(*bl));
  bl->top_n = conf->blend_n;
  bl->keep =
      conf->blend_half_life > 0 ? pow(0.5, 1.0 / conf->blend_half_life) : 1.0;
  if (conf->blend != SR_BLEND_AUTO) {
    bl->n = 1;
    bl->norms = 1;
    bl->alpha[0] = conf->cooc_alpha;
    bl->beta[0] = conf->cooc_beta;
    bl->config[0] = (sr_blend_config_t){0, conf->cooc_weight};
    return;
  }
  bl->n = N_AUTO;
  bl->norms = N_AUTO_NORMS;
  memcpy(bl->config, AUTO, sizeof(AUTO));
  memcpy(bl->alpha, AUTO_ALPHA, sizeof(AUTO_ALPHA));
  memcpy(bl->beta, AUTO_BETA, sizeof(AUTO_BETA));
  bl->every = conf->blend_sample;
}

int sr_blend_sampled(const sr_blend_t *bl, uint64_t events) {
  if (!bl->every)
    return 0;
  uint32_t every = bl->every;
  if (bl->samples < SR_BLEND_WARMUP && every > 2)
    every = 2;
  else if (bl->samples >= SR_BLEND_SETTLED)
    every *= SR_BLEND_SETTLED_BY;
  return sr_splitmix64(events) % every == 0;
}

void sr_blend_record(sr_blend_t *bl, const uint8_t *hit) {
  for (uint32_t c = 0; c < bl->n; c++)
    bl->hits[c] = bl->hits[c] * bl->keep + (hit[c] ? 1.0 : 0.0);
  bl->samples++;
  for (uint32_t c = 0; c < bl->n; c++)
    if (bl->hits[c] > bl->hits[bl->leader])
      bl->leader = c;
}

void sr_blend_name(const sr_blend_t *bl, uint32_t k, char *buf, size_t len) {
  const sr_blend_config_t *c = &bl->config[k];
  snprintf(buf, len, "cooc=%g,alpha=%g,beta=%g", (double)c->w_co,
           (double)bl->alpha[c->norm], (double)bl->beta[c->norm]);
}

/* The dump: n, leader, samples, then n pairs of (norm's alpha, beta, w_co
 * as floats) and n hit counts; the configurations are kept so that a
 * checkpoint of another set is refused rather than misread. */
int sr_blend_dump(const sr_blend_t *bl, sr_buf_t *buf) {
  int rc = sr_buf_append(buf, &bl->n, sizeof(bl->n)) ||
           sr_buf_append(buf, &bl->leader, sizeof(bl->leader)) ||
           sr_buf_append(buf, &bl->samples, sizeof(bl->samples));
  for (uint32_t c = 0; c < bl->n && rc == 0; c++) {
    float v[3] = {bl->alpha[bl->config[c].norm], bl->beta[bl->config[c].norm],
                  bl->config[c].w_co};
    rc = sr_buf_append(buf, v, sizeof(v));
  }
  if (rc == 0)
    rc = sr_buf_append(buf, bl->hits, bl->n * sizeof(double));
  return rc ? -1 : 0;
}

int sr_blend_load(sr_blend_t *bl, const void *data, uint64_t len) {
  const char *p = data;
  uint32_t n, leader;
  uint64_t samples;
  uint64_t head = sizeof(n) + sizeof(leader) + sizeof(samples);
  if (len != head + bl->n * (3 * sizeof(float) + sizeof(double)))
    return -1;
  memcpy(&n, p, sizeof(n));
  memcpy(&leader, p + sizeof(n), sizeof(leader));
  memcpy(&samples, p + sizeof(n) + sizeof(leader), sizeof(samples));
  if (n != bl->n || leader >= n)
    return -1;
  for (uint32_t c = 0; c < n; c++) {
    float v[3];
    memcpy(v, p + head + c * sizeof(v), sizeof(v));
    if (v[0] != bl->alpha[bl->config[c].norm] ||
        v[1] != bl->beta[bl->config[c].norm] || v[2] != bl->config[c].w_co)
      return -1;
  }
  double hits[SR_BLEND_MAX];
  memcpy(hits, p + head + n * 3 * sizeof(float), n * sizeof(double));
  for (uint32_t c = 0; c < n; c++)
    if (!(hits[c] >= 0))
      return -1;
  memcpy(bl->hits, hits, n * sizeof(double));
  bl->leader = leader;
  bl->samples = samples;
  return 0;
}
