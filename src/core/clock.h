/* The model's event-time clock: what "now" is for idle eviction, estimated
 * from event timestamps alone (never the wall clock) so that a replay of the
 * same events gives the same clock. It is the median of the last
 * SR_CLOCK_WINDOW timestamps and never goes back. So an event stamped far
 * ahead, or a burst of fewer than half the window, cannot move it past the
 * times the other events carry, while a lasting jump moves it once it fills
 * half the window. In a stream ordered by time it trails the newest
 * timestamp by half the window, in events, however fast they come. Until
 * the window fills it is the lower median of what it holds, so an empty
 * model's first timestamp sets it outright. Plain value; single-threaded. */
#ifndef SR_CLOCK_H
#define SR_CLOCK_H

#include <stdint.h>

/* Timestamps the median is taken over; odd, so that it is one of them. */
#define SR_CLOCK_WINDOW 31

typedef struct sr_clock {
  int64_t now_ms;                  /* the clock; 0 before any timestamp */
  uint32_t len;                    /* timestamps held */
  uint32_t head;                   /* ring slot of the oldest once full */
  int64_t ring[SR_CLOCK_WINDOW];   /* in arrival order */
  int64_t sorted[SR_CLOCK_WINDOW]; /* the same, ascending */
} sr_clock_t;

/* Sets up a clock at 0 with an empty window. */
void sr_clock_init(sr_clock_t *clk);

/* Takes one event's timestamp into the window (a timestamp <= 0 says none
 * and is ignored) and returns the clock. */
int64_t sr_clock_observe(sr_clock_t *clk, int64_t ts_ms);

/* Copies the window, oldest first, into out (SR_CLOCK_WINDOW entries of
 * room). Returns the count. */
uint32_t sr_clock_window(const sr_clock_t *clk, int64_t *out);

/* Rebuilds a clock at now_ms whose window holds ts[0..n), oldest first.
 * Returns 0, or -1 when n exceeds SR_CLOCK_WINDOW or a timestamp is not
 * positive. */
int sr_clock_load(sr_clock_t *clk, int64_t now_ms, const int64_t *ts,
                  uint32_t n);

#endif
