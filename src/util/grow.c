/* Arrays that grow by doubling; see grow.h. */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The capacity to grow to, or 0 when no capacity of at least need fits. */
static size_t next_cap(size_t cap, size_t need, size_t elem, size_t first) {
  size_t ncap = cap == 0 ? first : cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
  if (ncap < need)
    ncap = need;
  if (elem && ncap > SIZE_MAX / elem)
    ncap = need; /* doubling overflows; need alone may still fit */
  return elem && ncap > SIZE_MAX / elem ? 0 : ncap;
}

int sr_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first) {
  if (need <= *cap)
    return 0;
  size_t ncap = next_cap(*cap, need, elem, first);
  if (ncap == 0)
    return -1;
  /* The pointer is read and written through memcpy because arrp points at
   * a T *, which a void ** may not alias. */
  void *arr;
  memcpy(&arr, arrp, sizeof(arr));
  void *grown = realloc(arr, ncap * elem);
  if (!grown)
    return -1;
  memcpy(arrp, &grown, sizeof(grown));
  *cap = ncap;
  return 0;
}
