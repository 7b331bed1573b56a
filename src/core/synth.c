/* Synthetic event generator. Every random draw comes from one seeded
 * xoshiro256** stream, and every per-event step is O(1): items are drawn from
 * alias tables, never by scanning the catalogue. */
#include "core/synth.h"

#include "core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a newly picked item comes from. Taste clusters dominate so that a
 * personalised model beats a popularity ranker; the global share keeps
 * popularity a sensible baseline; the remainder is uniform exploration. */
#define SHARE_CLUSTER 0.74
#define SHARE_GLOBAL 0.14
#define SHARE_TREND 0.07

#define ZIPF_GLOBAL 1.0   /* item popularity over the whole catalogue */
#define ZIPF_CLUSTER 0.9  /* preference over a cluster's items */
#define ZIPF_MASS 0.6     /* how unevenly users spread over clusters */
#define SEED_POPULAR 0.35 /* share of a cluster's items drawn by popularity */
/* Log-normal user activity: a few heavy users, many light ones. */
#define ACTIVITY_SIGMA 1.3
#define P_MOVE 0.004     /* chance per session that a user changes cluster */
#define SESSION_MEAN 4.0 /* events per session beyond the first */
#define SESSION_MAX 48
#define MAX_SESSIONS 64 /* sessions interleaved at any moment */
#define NTRENDS 4
#define P_DISLIKE 0.12     /* first reaction to an out-of-taste item */
#define P_CLICK_FIRST 0.30 /* a new item starts with CLICK, not VIEW */
#define TASTE_MEMBER 0.7f  /* affinity for a preferred item met elsewhere */
#define GAP_SHORT_MS 40.0  /* mean gap between events, usually */
#define GAP_LONG_MS 1500.0 /* mean gap in quiet moments */
#define P_GAP_LONG 0.1

/* Walker/Vose alias table: O(1) draws from a fixed discrete distribution. */
typedef struct alias {
  float *prob;
  uint32_t *alias;
  uint32_t n;
} alias_t;

/* A taste cluster prefers setsize items, each held in a slot whose weight
 * falls with its rank (the same weights for all clusters); drift moves items
 * between slots, never weights. */
typedef struct cluster {
  uint32_t *item;
  uint32_t picks; /* picks since the last drift step */
} cluster_t;

/* One user's burst of activity, interleaved with other sessions. */
typedef struct session {
  uint32_t user;
  uint32_t left;        /* events still to come */
  uint32_t item;        /* item of the running funnel */
  float taste;          /* affinity for item: 0 out of taste, up to 1 */
  sr_event_type_t last; /* last event on item, SR_EV_UNSPECIFIED if none */
} session_t;

/* An item that draws a share of all traffic until event number `until`. */
typedef struct trend {
  uint32_t item;
  uint64_t until;
} trend_t;

/* A follow-up on the same item: from `from`, go to `to` with the probability
 * for an in-taste or an out-of-taste item. */
typedef struct step {
  sr_event_type_t from, to;
  float p_taste, p_other;
} step_t;

static const step_t funnel[] = {
    {SR_EV_VIEW, SR_EV_CLICK, 0.35f, 0.10f},
    {SR_EV_CLICK, SR_EV_ADD_TO_CART, 0.25f, 0.05f},
    {SR_EV_CLICK, SR_EV_LIKE, 0.08f, 0.01f},
    {SR_EV_CLICK, SR_EV_RATING, 0.06f, 0.04f},
    {SR_EV_ADD_TO_CART, SR_EV_PURCHASE, 0.55f, 0.30f},
    {SR_EV_PURCHASE, SR_EV_RATING, 0.25f, 0.25f},
    {SR_EV_PURCHASE, SR_EV_LIKE, 0.10f, 0.02f},
};

struct sr_synth {
  sr_synth_conf_t conf;
  sr_rng_t rng;
  uint64_t emitted;
  int64_t now_ms;
  uint32_t nclusters;
  uint32_t setsize;     /* preferred items per cluster */
  uint32_t drift_every; /* cluster picks between drift steps */
  uint32_t trend_len;   /* mean lifetime of a trend, in events */
  alias_t activity;     /* over users */
  alias_t popularity;   /* over items */
  alias_t mass;         /* over clusters: where users land */
  alias_t slots;        /* over a cluster's slots, by rank */
  uint16_t *user_cluster;
  float *user_bias; /* rating offsets, so ratings have user and item biases */
  float *item_bias;
  uint64_t *member; /* nclusters rows of `words` words: item preferred? */
  size_t words;
  cluster_t *cl;
  session_t sess[MAX_SESSIONS];
  uint32_t nsess;
  trend_t trend[NTRENDS];
};

static double unif(sr_rng_t *rng) {
  return (double)(sr_rng_next(rng) >> 11) * 0x1.0p-53;
}

/* Exponential with the given mean; 1 - unif() keeps log away from 0. */
static double expo(sr_rng_t *rng, double mean) {
  return -log(1.0 - unif(rng)) * mean;
}

/* Standard normal by Box-Muller; only used where a few draws are needed. */
static double normal(sr_rng_t *rng) {
  double u1 = 1.0 - unif(rng), u2 = unif(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint32_t clamp_u32(uint64_t v, uint32_t lo, uint32_t hi) {
  return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

static void alias_free(alias_t *at) {
  free(at->prob);
  free(at->alias);
}

/* Pairs each under-full column with an over-full one (Vose). `work` holds
 * the small indices from the front and the large ones from the back. */
static void alias_fill(alias_t *at, double *p, uint32_t *work) {
  uint32_t n = at->n, ns = 0, nl = n;
  for (uint32_t i = 0; i < n; i++) {
    if (p[i] < 1.0)
      work[ns++] = i;
    else
      work[--nl] = i;
  }
  while (ns > 0 && nl < n) {
    uint32_t s = work[--ns], l = work[nl];
    at->prob[s] = (float)p[s];
    at->alias[s] = l;
    p[l] -= 1.0 - p[s];
    if (p[l] < 1.0) {
      nl++;
      work[ns++] = l;
    }
  }
  /* What is left is full up to rounding error. */
  for (uint32_t i = 0; i < ns; i++) {
    at->prob[work[i]] = 1.0f;
    at->alias[work[i]] = work[i];
  }
  for (uint32_t i = nl; i < n; i++) {
    at->prob[work[i]] = 1.0f;
    at->alias[work[i]] = work[i];
  }
}

/* Builds a table for weights w[0..n). Returns 0, or -1 when out of memory. */
static int alias_build(alias_t *at, const double *w, uint32_t n) {
  double *p = malloc(n * sizeof *p);
  uint32_t *work = malloc(n * sizeof *work);
  at->n = n;
  at->prob = malloc(n * sizeof *at->prob);
  at->alias = malloc(n * sizeof *at->alias);
  int rc = -1;
  if (!p || !work || !at->prob || !at->alias)
    goto out;
  double sum = 0.0;
  for (uint32_t i = 0; i < n; i++)
    sum += w[i];
  for (uint32_t i = 0; i < n; i++)
    p[i] = w[i] * n / sum;
  alias_fill(at, p, work);
  rc = 0;
out:
  free(p);
  free(work);
  return rc;
}

/* One 64-bit draw serves both the column (high bits) and the coin (low). */
static uint32_t alias_draw(const alias_t *at, sr_rng_t *rng) {
  uint64_t r = sr_rng_next(rng);
  uint32_t i = (uint32_t)(((r >> 32) * (uint64_t)at->n) >> 32);
  float coin = (float)(r & 0xffffff) * (1.0f / 16777216.0f);
  return coin < at->prob[i] ? i : at->alias[i];
}

/* Zipf weights 1/(rank+1)^s, with ranks given by perm (NULL: identity). */
static void zipf_weights(double *w, uint32_t n, double s,
                         const uint32_t *perm) {
  for (uint32_t r = 0; r < n; r++)
    w[perm ? perm[r] : r] = pow((double)r + 1.0, -s);
}

static void shuffle(uint32_t *a, uint32_t n, sr_rng_t *rng) {
  for (uint32_t i = 0; i < n; i++)
    a[i] = i;
  for (uint32_t i = n; i > 1; i--) {
    uint32_t j = sr_rng_below(rng, i), t = a[i - 1];
    a[i - 1] = a[j];
    a[j] = t;
  }
}

static int is_member(const sr_synth_t *syn, uint32_t c, uint32_t item) {
  return (int)((syn->member[c * syn->words + item / 64] >> (item % 64)) & 1);
}

static void set_member(sr_synth_t *syn, uint32_t c, uint32_t item, int on) {
  uint64_t *word = &syn->member[c * syn->words + item / 64];
  uint64_t bit = (uint64_t)1 << (item % 64);
  *word = on ? *word | bit : *word & ~bit;
}

/* The first non-preferred item of cluster c at or after `from`, cyclically.
 * The caller guarantees one exists (setsize < items). */
static uint32_t probe_free(const sr_synth_t *syn, uint32_t c, uint32_t from) {
  while (is_member(syn, c, from))
    from = from + 1 == syn->conf.items ? 0 : from + 1;
  return from;
}

/* Popular items are ranked by a random permutation, so ids say nothing. */
static int build_popularity(sr_synth_t *syn) {
  uint32_t n = syn->conf.items;
  double *w = malloc(n * sizeof *w);
  uint32_t *perm = malloc(n * sizeof *perm);
  int rc = -1;
  if (w && perm) {
    shuffle(perm, n, &syn->rng);
    zipf_weights(w, n, ZIPF_GLOBAL, perm);
    rc = alias_build(&syn->popularity, w, n);
  }
  free(w);
  free(perm);
  return rc;
}

static int build_users(sr_synth_t *syn) {
  uint32_t n = syn->conf.users;
  double *w = malloc(n * sizeof *w);
  syn->user_cluster = malloc(n * sizeof *syn->user_cluster);
  syn->user_bias = malloc(n * sizeof *syn->user_bias);
  int rc = -1;
  if (!w || !syn->user_cluster || !syn->user_bias)
    goto out;
  for (uint32_t u = 0; u < n; u++) {
    w[u] = exp(ACTIVITY_SIGMA * normal(&syn->rng));
    syn->user_cluster[u] = (uint16_t)alias_draw(&syn->mass, &syn->rng);
    syn->user_bias[u] = (float)(0.4 * normal(&syn->rng));
  }
  rc = alias_build(&syn->activity, w, n);
out:
  free(w);
  return rc;
}

static int build_item_bias(sr_synth_t *syn) {
  syn->item_bias = malloc(syn->conf.items * sizeof *syn->item_bias);
  if (!syn->item_bias)
    return -1;
  for (uint32_t i = 0; i < syn->conf.items; i++)
    syn->item_bias[i] = (float)(0.3 * normal(&syn->rng));
  return 0;
}

/* A cluster's items mix popular ones (shared between clusters, which makes
 * popularity a fair baseline) with uniform ones (its own niche). */
static void seed_cluster(sr_synth_t *syn, uint32_t c) {
  cluster_t *cl = &syn->cl[c];
  for (uint32_t k = 0; k < syn->setsize; k++) {
    uint32_t item = unif(&syn->rng) < SEED_POPULAR
                        ? alias_draw(&syn->popularity, &syn->rng)
                        : sr_rng_below(&syn->rng, syn->conf.items);
    item = probe_free(syn, c, item);
    set_member(syn, c, item, 1);
    cl->item[k] = item;
  }
}

static int build_clusters(sr_synth_t *syn) {
  uint32_t nc = syn->nclusters, s = syn->setsize;
  double *w = malloc((nc > s ? nc : s) * sizeof *w);
  syn->words = ((size_t)syn->conf.items + 63) / 64;
  syn->member = calloc(nc * syn->words, sizeof *syn->member);
  syn->cl = calloc(nc, sizeof *syn->cl);
  int rc = -1;
  if (!w || !syn->member || !syn->cl)
    goto out;
  zipf_weights(w, nc, ZIPF_MASS, NULL);
  if (alias_build(&syn->mass, w, nc) != 0)
    goto out;
  zipf_weights(w, s, ZIPF_CLUSTER, NULL);
  if (alias_build(&syn->slots, w, s) != 0)
    goto out;
  for (uint32_t c = 0; c < nc; c++) {
    syn->cl[c].item = malloc(s * sizeof *syn->cl[c].item);
    if (!syn->cl[c].item)
      goto out;
    seed_cluster(syn, c);
  }
  rc = 0;
out:
  free(w);
  return rc;
}

/* Scale everything from the catalogue and the audience: one cluster per 40
 * items within 8..32, each preferring 1.25x its fair share of items so that
 * neighbouring tastes overlap; a trend lasts a few thousand events, longer
 * when more users need to come by to notice it. */
static void derive_sizes(sr_synth_t *syn) {
  const sr_synth_conf_t *conf = &syn->conf;
  uint32_t nc =
      conf->clusters ? conf->clusters : clamp_u32(conf->items / 40, 8, 32);
  syn->nclusters = clamp_u32(nc, 1, conf->items < 65535 ? conf->items : 65535);
  uint64_t set = ((uint64_t)conf->items * 5 + syn->nclusters * 4 - 1) /
                 (syn->nclusters * 4ull);
  syn->setsize = clamp_u32(set, 1, conf->items);
  syn->drift_every = clamp_u32(4ull * syn->setsize, 16, UINT32_MAX);
  syn->trend_len = clamp_u32(3000ull + 2ull * conf->users, 1, 1u << 30);
  syn->nsess = clamp_u32(conf->users / 8, 1, MAX_SESSIONS);
}

static void session_start(sr_synth_t *syn, session_t *ses) {
  ses->user = alias_draw(&syn->activity, &syn->rng);
  if (syn->nclusters > 1 && unif(&syn->rng) < P_MOVE)
    syn->user_cluster[ses->user] = (uint16_t)alias_draw(&syn->mass, &syn->rng);
  double extra = expo(&syn->rng, SESSION_MEAN);
  ses->left = 1 + (extra < SESSION_MAX - 1 ? (uint32_t)extra : SESSION_MAX - 1);
  ses->last = SR_EV_UNSPECIFIED;
}

void sr_synth_conf_init(sr_synth_conf_t *conf) {
  memset(conf, 0, sizeof *conf);
  conf->users = 1000;
  conf->items = 500;
  conf->events = 100000;
  conf->seed = 42;
  conf->start_ms = SR_SYNTH_START_MS;
}

sr_synth_t *sr_synth_new(const sr_synth_conf_t *conf) {
  if (!conf || conf->users == 0 || conf->items == 0)
    return NULL;
  sr_synth_t *syn = calloc(1, sizeof *syn);
  if (!syn)
    return NULL;
  syn->conf = *conf;
  syn->now_ms = conf->start_ms;
  sr_rng_seed(&syn->rng, conf->seed);
  derive_sizes(syn);
  if (build_popularity(syn) != 0 || build_clusters(syn) != 0 ||
      build_users(syn) != 0 || build_item_bias(syn) != 0) {
    sr_synth_free(syn);
    return NULL;
  }
  for (uint32_t k = 0; k < syn->nsess; k++)
    session_start(syn, &syn->sess[k]);
  return syn;
}

void sr_synth_free(sr_synth_t *syn) {
  if (!syn)
    return;
  for (uint32_t c = 0; syn->cl && c < syn->nclusters; c++)
    free(syn->cl[c].item);
  free(syn->cl);
  free(syn->member);
  alias_free(&syn->activity);
  alias_free(&syn->popularity);
  alias_free(&syn->mass);
  alias_free(&syn->slots);
  free(syn->user_cluster);
  free(syn->user_bias);
  free(syn->item_bias);
  free(syn);
}

uint32_t sr_synth_clusters(const sr_synth_t *syn) {
  return syn->nclusters;
}

/* Tastes rotate slowly: neighbouring ranks trade places, or a tail item
 * leaves the cluster for one it did not prefer. */
static void drift(sr_synth_t *syn, uint32_t c) {
  cluster_t *cl = &syn->cl[c];
  uint32_t s = syn->setsize;
  if (s >= 2 && unif(&syn->rng) < 0.5) {
    uint32_t k = sr_rng_below(&syn->rng, s - 1), t = cl->item[k];
    cl->item[k] = cl->item[k + 1];
    cl->item[k + 1] = t;
  } else if (s < syn->conf.items) {
    uint32_t k = s / 2 + sr_rng_below(&syn->rng, s - s / 2);
    uint32_t fresh =
        probe_free(syn, c, sr_rng_below(&syn->rng, syn->conf.items));
    set_member(syn, c, cl->item[k], 0);
    set_member(syn, c, fresh, 1);
    cl->item[k] = fresh;
  }
}

/* Affinity falls with the slot's rank, so ratings follow preference. */
static void pick_from_cluster(sr_synth_t *syn, uint32_t c, session_t *ses) {
  cluster_t *cl = &syn->cl[c];
  uint32_t slot = alias_draw(&syn->slots, &syn->rng);
  ses->item = cl->item[slot];
  ses->taste = 1.0f - 0.6f * (float)slot / (float)syn->setsize;
  if (++cl->picks >= syn->drift_every) {
    cl->picks = 0;
    drift(syn, c);
  }
}

static void pick_item(sr_synth_t *syn, session_t *ses) {
  uint32_t c = syn->user_cluster[ses->user];
  double u = unif(&syn->rng);
  if (u < SHARE_CLUSTER) {
    pick_from_cluster(syn, c, ses);
    return;
  }
  if (u < SHARE_CLUSTER + SHARE_GLOBAL)
    ses->item = alias_draw(&syn->popularity, &syn->rng);
  else if (u < SHARE_CLUSTER + SHARE_GLOBAL + SHARE_TREND)
    ses->item = syn->trend[sr_rng_below(&syn->rng, NTRENDS)].item;
  else
    ses->item = sr_rng_below(&syn->rng, syn->conf.items);
  ses->taste = is_member(syn, c, ses->item) ? TASTE_MEMBER : 0.0f;
}

/* The next step of the funnel on the session's item, or SR_EV_UNSPECIFIED
 * when the user moves on to another item. */
static sr_event_type_t follow_up(sr_synth_t *syn, const session_t *ses) {
  if (ses->last == SR_EV_UNSPECIFIED)
    return SR_EV_UNSPECIFIED;
  double u = unif(&syn->rng), acc = 0.0;
  for (size_t k = 0; k < sizeof funnel / sizeof funnel[0]; k++) {
    if (funnel[k].from != ses->last)
      continue;
    acc += ses->taste > 0.0f ? funnel[k].p_taste : funnel[k].p_other;
    if (u < acc)
      return funnel[k].to;
  }
  return SR_EV_UNSPECIFIED;
}

static sr_event_type_t session_step(sr_synth_t *syn, session_t *ses) {
  sr_event_type_t type = follow_up(syn, ses);
  if (type == SR_EV_UNSPECIFIED) {
    pick_item(syn, ses);
    if (ses->taste == 0.0f && unif(&syn->rng) < P_DISLIKE)
      type = SR_EV_DISLIKE;
    else
      type = unif(&syn->rng) < P_CLICK_FIRST ? SR_EV_CLICK : SR_EV_VIEW;
  }
  ses->last = type;
  return type;
}

static void advance_clock(sr_synth_t *syn) {
  double mean = unif(&syn->rng) < P_GAP_LONG ? GAP_LONG_MS : GAP_SHORT_MS;
  syn->now_ms += 1 + (int64_t)expo(&syn->rng, mean);
}

/* A trend ends after a random lifetime and a tail item takes its place. */
static void refresh_trends(sr_synth_t *syn) {
  for (int t = 0; t < NTRENDS; t++) {
    if (syn->emitted < syn->trend[t].until)
      continue;
    syn->trend[t].item = sr_rng_below(&syn->rng, syn->conf.items);
    syn->trend[t].until = syn->emitted + syn->trend_len / 2 +
                          sr_rng_below(&syn->rng, syn->trend_len);
  }
}

/* 1..5, centred on 2 for disliked tastes and near 4.4 for favourites. */
static float rating(sr_synth_t *syn, const session_t *ses) {
  double mean = 2.0 + 2.4 * ses->taste + syn->user_bias[ses->user] +
                syn->item_bias[ses->item];
  double r = nearbyint(mean + 0.7 * normal(&syn->rng));
  return (float)(r < 1.0 ? 1.0 : r > 5.0 ? 5.0 : r);
}

/* Writes prefix and decimal n, NUL-terminated; returns the length. */
static uint16_t format_id(char *out, char prefix, uint32_t n) {
  char digits[10];
  int len = 0;
  do {
    digits[len++] = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  out[0] = prefix;
  for (int k = 0; k < len; k++)
    out[1 + k] = digits[len - 1 - k];
  out[1 + len] = '\0';
  return (uint16_t)(1 + len);
}

int sr_synth_next(sr_synth_t *syn, sr_event_t *ev) {
  if (syn->conf.events && syn->emitted >= syn->conf.events)
    return 0;
  if (syn->emitted)
    advance_clock(syn);
  refresh_trends(syn);
  session_t *ses = &syn->sess[sr_rng_below(&syn->rng, syn->nsess)];
  sr_event_type_t type = session_step(syn, ses);
  ev->user_len = format_id(ev->user_id, 'u', ses->user);
  ev->item_len = format_id(ev->item_id, 'i', ses->item);
  ev->type = type;
  /* Implicit events leave value at 0, the proto3 "absent" strength. */
  ev->value = type == SR_EV_RATING ? rating(syn, ses) : 0.0f;
  ev->timestamp_ms = syn->now_ms;
  if (--ses->left == 0)
    session_start(syn, ses);
  syn->emitted++;
  return 1;
}

/* Noise of item content: the chance a preferring cluster's topic is left
 * out, the chance of one wrong topic, and the spread of the embedding's
 * noise per dimension (a cluster's direction has unit spread). */
#define CONTENT_DROP 0.15
#define CONTENT_WRONG 0.15
#define CONTENT_NOISE 0.7
#define CONTENT_SALT 0x636f6e74656e74ULL

uint32_t sr_synth_item_content(const sr_synth_t *syn, uint32_t item,
                               char feat[][SR_SYNTH_FEATURE_LEN], uint32_t dims,
                               float *emb) {
  sr_rng_t rng, dir;
  sr_rng_seed(&rng, syn->conf.seed ^ CONTENT_SALT ^ ((uint64_t)item << 20));
  uint32_t n = 0;
  for (uint32_t d = 0; d < dims; d++)
    emb[d] = (float)(CONTENT_NOISE * normal(&rng));
  for (uint32_t c = 0; c < syn->nclusters; c++) {
    if (!is_member(syn, c, item))
      continue;
    /* Every item of the cluster adds the same direction: its draws come
     * from a stream seeded by the cluster alone. */
    sr_rng_seed(&dir, syn->conf.seed ^ CONTENT_SALT ^ ~(uint64_t)c);
    for (uint32_t d = 0; d < dims; d++)
      emb[d] += (float)normal(&dir);
    if (n < SR_SYNTH_MAX_FEATURES && unif(&rng) >= CONTENT_DROP)
      snprintf(feat[n++], SR_SYNTH_FEATURE_LEN, "topic:%u", c);
  }
  if (n < SR_SYNTH_MAX_FEATURES && unif(&rng) < CONTENT_WRONG)
    snprintf(feat[n++], SR_SYNTH_FEATURE_LEN, "topic:%u",
             (unsigned)sr_rng_below(&rng, syn->nclusters));
  return n;
}
