/* The event-time clock; see clock.h. */
#include "core/clock.h"

#include <string.h>

void sr_clock_init(sr_clock_t *clk) {
  memset(clk, 0, sizeof(*clk));
}

/* Index of the first sorted entry not below ts. In a stream ordered by time
 * the oldest timestamp is the smallest and the newest the largest: checking
 * the ends first spares the search, and its mispredicted branches, on
 * nearly every event. */
static uint32_t lower_bound(const sr_clock_t *clk, int64_t ts) {
  uint32_t lo = 0, hi = clk->len;
  if (hi == 0 || clk->sorted[0] >= ts)
    return 0;
  if (clk->sorted[hi - 1] < ts)
    return hi;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (clk->sorted[mid] < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static void sorted_remove(sr_clock_t *clk, int64_t ts) {
  uint32_t at = lower_bound(clk, ts);
  memmove(&clk->sorted[at], &clk->sorted[at + 1],
          (clk->len - at - 1) * sizeof(int64_t));
  clk->len--;
}

static void sorted_insert(sr_clock_t *clk, int64_t ts) {
  uint32_t at = lower_bound(clk, ts);
  memmove(&clk->sorted[at + 1], &clk->sorted[at],
          (clk->len - at) * sizeof(int64_t));
  clk->sorted[at] = ts;
  clk->len++;
}

/* Puts ts in the window, dropping the oldest when it is full. */
static void push(sr_clock_t *clk, int64_t ts) {
  if (clk->len == SR_CLOCK_WINDOW) {
    sorted_remove(clk, clk->ring[clk->head]);
    clk->ring[clk->head] = ts;
    clk->head = (clk->head + 1) % SR_CLOCK_WINDOW;
    sorted_insert(clk, ts);
    return;
  }
  clk->ring[clk->len] = ts;
  sorted_insert(clk, ts);
}

int64_t sr_clock_observe(sr_clock_t *clk, int64_t ts_ms) {
  if (ts_ms <= 0)
    return clk->now_ms;
  push(clk, ts_ms);
  int64_t median = clk->sorted[(clk->len - 1) / 2];
  if (median > clk->now_ms)
    clk->now_ms = median;
  return clk->now_ms;
}

uint32_t sr_clock_window(const sr_clock_t *clk, int64_t *out) {
  for (uint32_t k = 0; k < clk->len; k++)
    out[k] = clk->ring[(clk->head + k) % SR_CLOCK_WINDOW];
  return clk->len;
}

int sr_clock_load(sr_clock_t *clk, int64_t now_ms, const int64_t *ts,
                  uint32_t n) {
  sr_clock_init(clk);
  if (n > SR_CLOCK_WINDOW)
    return -1;
  for (uint32_t k = 0; k < n; k++) {
    if (ts[k] <= 0)
      return -1;
    push(clk, ts[k]);
  }
  clk->now_ms = now_ms;
  return 0;
}
