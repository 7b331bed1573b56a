/* Page-backed memory for the model's largest arrays (factor matrices, id
 * arenas). Each block is its own anonymous mapping, so a block given back
 * after growth or compaction returns to the system at once instead of
 * staying in the heap as a hole: the process's resident size follows what
 * the model reports, also under a steady churn of ids. Under AddressSanitizer
 * blocks come from the heap, so overflows are still caught. Thread-safe. */
#ifndef SR_PAGES_H
#define SR_PAGES_H

#include <stddef.h>

/* A zero-filled block of bytes (> 0), aligned to at least 64 bytes, or NULL
 * when out of memory. */
void *sr_pages_alloc(size_t bytes);

/* Gives back a block of bytes from sr_pages_alloc. Accepts NULL. */
void sr_pages_free(void *block, size_t bytes);

#endif
