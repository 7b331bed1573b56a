/* JSON event decoding internals: a one-pass scanner for the flat event
 * object that the generator and typical producers emit, which spares them
 * jansson's tree; the jansson path it falls back to (in event_codec.c), so
 * that tests and the fuzzer can hold the two side by side; and the proto3
 * JSON spellings of int64 and float values both paths share. Internal to
 * src/codec, its tests and fuzzer; stateless; any thread. */
#ifndef SR_JSON_EVENT_H
#define SR_JSON_EVENT_H

#include "codec/event_codec.h"
#include "codec/reason.h"

struct json_t;

/* The jansson path alone: parses p[0..len) into *root and reads the fields
 * from it, ids pointing into *root. Returns SR_REASON_OK, or
 * SR_REASON_DECODE with errstr as sr_event_decode words it. The caller frees
 * *root with json_decref whatever the result (it is NULL when p does not
 * parse). */
sr_reason_t sr_json_event_jansson_fields(const char *p, size_t len,
                                         struct json_t **root,
                                         sr_event_fields_t *fld, char *errstr,
                                         size_t errlen);

/* Reads the JSON message p[0..len) when it is a flat object of plain
 * strings, numbers and nulls. Returns 1 with *fld exactly as the jansson
 * path would fill it, ids pointing into p; or 0, so that the caller parses
 * it with jansson, when the message is anything else or holds a field the
 * jansson path rejects. Never rejects a message by itself. */
int sr_json_event_scan(const char *p, size_t len, sr_event_fields_t *fld);

/* Parses a whole string of decimal digits with an optional minus sign, the
 * form proto3 JSON gives int64 values. Returns 0 with *out, or -1. */
int sr_json_event_int64_string(const char *s, int64_t *out);

/* Parses a float as proto3 JSON spells it in a string: "NaN", "Infinity",
 * "-Infinity" or a decimal number. Returns 0 with *out, or -1. */
int sr_json_event_float_string(const char *s, double *out);

#endif
