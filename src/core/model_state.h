/* The sections of a model snapshot, as the one table in model_state.c
 * declares them: what the store lays out, looks up and names. Constant data;
 * any thread. */
#ifndef SR_MODEL_STATE_H
#define SR_MODEL_STATE_H

#include <stddef.h>
#include <stdint.h>

/* How many kinds of section a snapshot holds (at most
 * SR_MODEL_MAX_SECTIONS). */
size_t sr_model_section_count(void);

/* Id of the k-th kind (k < sr_model_section_count()), ascending: the order
 * of the sections in a snapshot and in a digest. */
uint32_t sr_model_section_id(size_t k);

/* Name of the section with id ("item_factors", ...), or NULL when no
 * section has it. */
const char *sr_model_section_name(uint32_t id);

#endif
