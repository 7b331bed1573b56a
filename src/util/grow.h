/* Arrays that grow by doubling. Any thread; no shared state. */
#ifndef SR_UTIL_GROW_H
#define SR_UTIL_GROW_H

#include <stddef.h>

/* Makes room for need elements of elem bytes in the array whose pointer is
 * at arrp (the address of an object pointer, e.g. `&items`) and whose
 * capacity in elements is *cap. When need exceeds *cap, reallocates to
 * twice *cap (first when *cap is 0), or to need when that is more, and
 * updates both. Returns 0, or -1 when out of memory or the size does not
 * fit a size_t; then the array and *cap are as they were. */
int sr_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first);

/* sr_grow for the array pointer arr and its size_t capacity cap (both
 * lvalues), with the element size taken from arr's type:
 * `if (SR_GROW(vec->ev, vec->cap, vec->len + 1, 64) != 0) return -1;` */
#define SR_GROW(arr, cap, need, first)                                         \
  sr_grow(&(arr), &(cap), (need), sizeof(*(arr)), (first))

#endif
