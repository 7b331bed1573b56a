/* Half-precision conversion by bit manipulation: no F16C dependence, and
 * the same result on every machine, so every instance decodes a delta
 * alike. */
#include "util/half.h"

#include <string.h>

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof(u));
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof(f));
  return f;
}

/* A float too small for a normal half: shifted into a subnormal (or zero),
 * rounded to nearest even. */
static uint16_t subnormal(uint32_t sign, int32_t exp, uint32_t mant) {
  if (exp < -10)
    return (uint16_t)sign;
  mant |= 0x800000u; /* the implicit leading one */
  uint32_t shift = (uint32_t)(14 - exp);
  uint32_t half = mant >> shift;
  uint32_t rest = mant & ((1u << shift) - 1);
  uint32_t mid = 1u << (shift - 1);
  if (rest > mid || (rest == mid && (half & 1)))
    half++;
  return (uint16_t)(sign | half);
}

uint16_t sr_half_from_float(float f) {
  uint32_t u = bits_of(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
  uint32_t mant = u & 0x7fffffu;
  if (((u >> 23) & 0xff) == 0xff) /* infinity or NaN */
    return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp <= 0)
    return subnormal(sign, exp, mant);
  uint32_t half = ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  /* Rounding may carry into the exponent, and from the top one into
   * infinity: both are what the bits should become. */
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1)))
    half++;
  if (half >= 0x7c00u)
    return (uint16_t)(sign | 0x7c00u);
  return (uint16_t)(sign | half);
}

float sr_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0x1f)
    return float_of(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    /* Subnormal or zero: mant x 2^-24, exact in a float. */
    float v = (float)mant * float_of(0x33800000u);
    return sign ? -v : v;
  }
  return float_of(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}
