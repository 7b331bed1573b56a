/* The two clocks, read only where time is owned (see docs/architecture.md). */
#ifndef SR_UTIL_NOW_H
#define SR_UTIL_NOW_H

#include <stdint.h>

/* Wall clock in milliseconds since the Unix epoch. */
int64_t sr_now_ms(void);
/* Monotonic clock in nanoseconds. */
uint64_t sr_mono_ns(void);

#endif
