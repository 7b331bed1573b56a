/* Files of events: JSON lines, length-delimited protobuf, and TSV
 * (MovieLens-style "user SEP item SEP value SEP unix_ts", SEP tab, "::" or
 * ",", detected; a header line skipped; read as RATING events). */
#ifndef SR_EVENT_FILE_H
#define SR_EVENT_FILE_H

#include "codec/reason.h"
#include "streamrec/common.h"
#include "util/buf.h"

#include <stdio.h>

typedef enum sr_file_fmt {
  SR_FILE_JSONL = 0,
  SR_FILE_PROTO =
      1, /* each Event preceded by its length as a base-128 varint */
  SR_FILE_TSV = 2,
} sr_file_fmt_t;

/* Parses "jsonl", "proto" or "tsv". Returns 0, or -1 if unknown. */
int sr_file_fmt_parse(const char *name, sr_file_fmt_t *fmt);

/* The format path's name gives: .jsonl and .json are JSON lines, .pb and
 * .proto protobuf, .dat, .tsv, .csv and .data TSV. Returns 0 with
 * *fmt set, or -1 when the name tells nothing. */
int sr_file_fmt_of_name(const char *path, sr_file_fmt_t *fmt);

/* The format of the file at path when none is given. By its name first:
 * .jsonl and .json are JSON lines, .pb and .proto protobuf, .dat, .tsv,
 * .csv and .data TSV (sr_file_fmt_of_name). Otherwise by its first bytes
 * (MovieLens 100K's u.data has no telling name): '{' after any whitespace is
 * JSON lines, a first line of text holding a tab, "::" or a comma is TSV,
 * anything else protobuf. Only a regular file is looked into: "-" (stdin),
 * a pipe (`<(zcat ...)`), which cannot be read twice, and a file that
 * cannot be read are JSON lines; opening it then reports the error. */
sr_file_fmt_t sr_file_fmt_guess(const char *path);

/* "jsonl", "proto" or "tsv". */
const char *sr_file_fmt_name(sr_file_fmt_t fmt);

typedef struct sr_event_reader sr_event_reader_t;

/* Opens path ("-" for stdin) for reading in fmt. Returns NULL with errstr. */
sr_event_reader_t *sr_event_reader_open(const char *path, sr_file_fmt_t fmt,
                                        char *errstr, size_t errlen);

/* Reads the next record. Returns 1 with *ev filled and *reason SR_REASON_OK;
 * 1 with *reason set (and errstr naming the record number and field) for a
 * record that is present but invalid, so callers can count it and go on;
 * 0 at end of file; -1 on an I/O error or unrecoverable framing (errstr). */
int sr_event_reader_next(sr_event_reader_t *rd, sr_event_t *ev,
                         sr_reason_t *reason, char *errstr, size_t errlen);

/* The raw bytes of the record last returned (a JSON line without newline, a
 * protobuf message, or a TSV line); valid until the next call. */
const void *sr_event_reader_raw(const sr_event_reader_t *rd, size_t *len);

/* Bytes consumed so far and the file size (0 when unknown, e.g. a pipe). */
void sr_event_reader_progress(const sr_event_reader_t *rd, uint64_t *done,
                              uint64_t *total);

/* Closes the file and frees the reader. Accepts NULL. */
void sr_event_reader_free(sr_event_reader_t *rd);

/* Appends one event to f in fmt (TSV: user\titem\tvalue\tunix_seconds).
 * Returns 0, or -1 on an I/O error or out of memory. */
int sr_event_write(FILE *f, sr_file_fmt_t fmt, const sr_event_t *ev,
                   sr_buf_t *scratch);

#endif
