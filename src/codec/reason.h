/* Why an input message was rejected. */
#ifndef SR_CODEC_REASON_H
#define SR_CODEC_REASON_H

#include <stddef.h>

/* Why an input message was rejected; names appear in dead-letter headers
 * and metrics labels. */
typedef enum sr_reason {
  SR_REASON_OK = 0,
  SR_REASON_DECODE,        /* "decode_error": bytes are not an Event */
  SR_REASON_EMPTY_ID,      /* "empty_id": user_id or item_id missing/empty */
  SR_REASON_ID_TOO_LONG,   /* "id_too_long": an id over the length limit */
  SR_REASON_NON_FINITE,    /* "non_finite_value": value is NaN or infinite */
  SR_REASON_UNKNOWN_TYPE,  /* "unknown_event_type" */
  SR_REASON_FUTURE_TS,     /* "future_timestamp": beyond the allowed skew */
  SR_REASON_TOO_LARGE,     /* "message_too_large" */
  SR_REASON_TOMBSTONE,     /* "tombstone": a Kafka message with a null value */
  SR_REASON_MISSING_FIELD, /* "missing_field": a mapped field is absent */
  SR_REASON_BAD_FIELD,     /* "bad_field": a mapped field of the wrong type */
  SR_REASON_BAD_TIMESTAMP, /* "bad_timestamp": an unparsable timestamp */
  SR_REASON_SKIPPED_TYPE,  /* "skipped_type": unknown type, input.unknown_types
                              skip: counted, never dead-lettered */
  SR_REASON_BAD_EMBEDDING, /* "bad_embedding": an Item embedding of the wrong
                              length */
  SR_REASON__COUNT
} sr_reason_t;

/* Writes the printf-style detail of a rejection into errstr (when not
 * NULL) and returns reason, so that a decoder rejects in one statement. */
__attribute__((format(printf, 4, 5))) sr_reason_t
sr_reason_fail(sr_reason_t reason, char *errstr, size_t errlen, const char *fmt,
               ...);

/* Snake-case name of reason ("decode_error"). */
const char *sr_reason_name(sr_reason_t reason);

#endif
