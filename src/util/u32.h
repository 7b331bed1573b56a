/* Searches in arrays of 32-bit values (item rows). */
#ifndef SR_U32_H
#define SR_U32_H

#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* 1 when v occurs in a[0..n). The value is usually absent where this is
 * asked (a sampled negative in a user's seen ring, an evicted item in the
 * recent window), so the whole array is usually read: eight values a step,
 * with one branch for them. */
static inline int sr_u32_has(const uint32_t *a, uint32_t n, uint32_t v) {
  uint32_t i = 0;
#if defined(__SSE2__)
  __m128i key = _mm_set1_epi32((int)v);
  for (; i + 8 <= n; i += 8) {
    __m128i x = _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(a + i)), key);
    __m128i y =
        _mm_cmpeq_epi32(_mm_loadu_si128((const __m128i *)(a + i + 4)), key);
    if (_mm_movemask_epi8(_mm_or_si128(x, y)))
      return 1;
  }
#endif
  for (; i < n; i++)
    if (a[i] == v)
      return 1;
  return 0;
}

#endif
