/* Page-backed blocks; see pages.h. */
#include "core/pages.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* GCC says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define SR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SR_ASAN 1
#endif
#endif

#if defined(SR_ASAN)

void *sr_pages_alloc(size_t bytes) {
  size_t size = (bytes + 63) & ~(size_t)63;
  void *block = aligned_alloc(64, size);
  if (block)
    memset(block, 0, size);
  return block;
}

void sr_pages_free(void *block, size_t bytes) {
  (void)bytes;
  free(block);
}

#else

void *sr_pages_alloc(size_t bytes) {
  void *block = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return block == MAP_FAILED ? NULL : block;
}

void sr_pages_free(void *block, size_t bytes) {
  if (block)
    munmap(block, bytes);
}

#endif
