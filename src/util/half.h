/* IEEE 754 half-precision floats, for item deltas on the sync topic: half
 * the bytes of a float, about three significant digits. */
#ifndef SR_UTIL_HALF_H
#define SR_UTIL_HALF_H

#include <stdint.h>

/* f rounded to the nearest half (ties to even); overflow becomes infinity,
 * NaN stays NaN. */
uint16_t sr_half_from_float(float f);

/* The float a half stands for (exact). */
float sr_half_to_float(uint16_t h);

#endif
