/* Event files: each format written and read back, TSV dialects as found in
 * the wild, bad records skipped with a line number, broken framing fatal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/event_file.h"
#include "codec/reason.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fixture {
  char dir[64];
  char path[128];
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx)
    return -1;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/test_event_file.XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  snprintf(fx->path, sizeof fx->path, "%s/events", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  unlink(fx->path);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static void write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text) {
  write_file(path, text, strlen(text));
}

static sr_event_t make_event(int i) {
  sr_event_t ev;
  memset(&ev, 0, sizeof ev);
  ev.user_len = (uint16_t)snprintf(ev.user_id, sizeof ev.user_id, "u%d", i);
  ev.item_len =
      (uint16_t)snprintf(ev.item_id, sizeof ev.item_id, "item-%d", i * 7);
  ev.type = SR_EV_RATING;
  ev.value = (float)(i % 5) + 0.5f;
  ev.timestamp_ms = 978300760000LL + i * 1000;
  return ev;
}

static void write_events(const char *path, sr_file_fmt_t fmt, int n) {
  FILE *f = fopen(path, "wb");
  sr_buf_t scratch = {0};
  assert_non_null(f);
  for (int i = 0; i < n; i++) {
    sr_event_t ev = make_event(i);
    assert_int_equal(sr_event_write(f, fmt, &ev, &scratch), 0);
  }
  assert_int_equal(fclose(f), 0);
  sr_buf_free(&scratch);
}

static void read_back(const char *path, sr_file_fmt_t fmt, int n) {
  char err[256];
  sr_event_reader_t *rd = sr_event_reader_open(path, fmt, err, sizeof err);
  assert_non_null(rd);
  sr_event_t ev;
  sr_reason_t reason;
  for (int i = 0; i < n; i++) {
    sr_event_t want = make_event(i);
    assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err),
                     1);
    assert_int_equal(reason, SR_REASON_OK);
    assert_string_equal(ev.user_id, want.user_id);
    assert_string_equal(ev.item_id, want.item_id);
    assert_int_equal(ev.type, want.type);
    assert_true(ev.value == want.value);
    assert_int_equal(ev.timestamp_ms, want.timestamp_ms);
  }
  assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err), 0);
  uint64_t done, total;
  sr_event_reader_progress(rd, &done, &total);
  assert_true(total > 0);
  assert_true(done == total);
  sr_event_reader_free(rd);
}

static void test_round_trip_each_format(void **state) {
  fixture_t *fx = *state;
  const sr_file_fmt_t fmts[] = {SR_FILE_JSONL, SR_FILE_PROTO, SR_FILE_TSV};
  for (size_t i = 0; i < 3; i++) {
    write_events(fx->path, fmts[i], 1000);
    read_back(fx->path, fmts[i], 1000);
  }
}

static void test_file_fmt_parse(void **state) {
  (void)state;
  sr_file_fmt_t fmt;
  assert_int_equal(sr_file_fmt_parse("jsonl", &fmt), 0);
  assert_int_equal(fmt, SR_FILE_JSONL);
  assert_int_equal(sr_file_fmt_parse("proto", &fmt), 0);
  assert_int_equal(fmt, SR_FILE_PROTO);
  assert_int_equal(sr_file_fmt_parse("tsv", &fmt), 0);
  assert_int_equal(fmt, SR_FILE_TSV);
  assert_int_equal(sr_file_fmt_parse("parquet", &fmt), -1);
}

static void test_fmt_of_name(void **state) {
  (void)state;
  sr_file_fmt_t fmt;
  static const struct {
    const char *path;
    sr_file_fmt_t fmt;
  } named[] = {{"g.jsonl", SR_FILE_JSONL},   {"d/e.json", SR_FILE_JSONL},
               {"g.pb", SR_FILE_PROTO},      {"x.proto", SR_FILE_PROTO},
               {"ratings.dat", SR_FILE_TSV}, {"ratings.csv", SR_FILE_TSV},
               {"e.tsv", SR_FILE_TSV},       {"ml-100k/u.data", SR_FILE_TSV}};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    assert_int_equal(sr_file_fmt_of_name(named[i].path, &fmt), 0);
    assert_int_equal(fmt, named[i].fmt);
    assert_int_equal(sr_file_fmt_guess(named[i].path), named[i].fmt);
  }
  /* A dot in a directory's name says nothing of the file. */
  assert_int_equal(sr_file_fmt_of_name("runs.pb/events", &fmt), -1);
  assert_int_equal(sr_file_fmt_of_name("events", &fmt), -1);
  assert_int_equal(sr_file_fmt_of_name("events.txt", &fmt), -1);
  /* stdin and a file that cannot be read: JSON lines. */
  assert_int_equal(sr_file_fmt_guess("-"), SR_FILE_JSONL);
  assert_int_equal(sr_file_fmt_guess("/nonexistent/events"), SR_FILE_JSONL);
}

/* A file without a telling name (fixture path "events") is known by its
 * first bytes, whichever format wrote it. */
static void test_fmt_guess_by_content(void **state) {
  fixture_t *fx = *state;
  const sr_file_fmt_t fmts[] = {SR_FILE_JSONL, SR_FILE_PROTO, SR_FILE_TSV};
  for (size_t i = 0; i < 3; i++) {
    write_events(fx->path, fmts[i], 10);
    assert_int_equal(sr_file_fmt_guess(fx->path), fmts[i]);
  }
  static const struct {
    const char *text;
    sr_file_fmt_t fmt;
  } heads[] = {
      {"196\t242\t3\t881250949\n", SR_FILE_TSV}, /* MovieLens 100K u.data */
      {"1::1193::5::978300760\n", SR_FILE_TSV},  /* MovieLens 1M */
      {"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n", SR_FILE_TSV},
      {"\n  {\"user_id\":\"u\"}\n", SR_FILE_JSONL},
      {"", SR_FILE_JSONL},
      {"just words\n", SR_FILE_PROTO},
  };
  for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
    write_text(fx->path, heads[i].text);
    assert_int_equal(sr_file_fmt_guess(fx->path), heads[i].fmt);
  }
  /* A message of 32 bytes or more has a printable length prefix, then the
   * tag of field 1, a newline byte: still protobuf. */
  sr_event_t ev = make_event(1);
  memset(ev.user_id, 'u', 100);
  ev.user_id[100] = '\0';
  ev.user_len = 100;
  FILE *f = fopen(fx->path, "wb");
  sr_buf_t scratch = {0};
  assert_non_null(f);
  assert_int_equal(sr_event_write(f, SR_FILE_PROTO, &ev, &scratch), 0);
  assert_int_equal(fclose(f), 0);
  sr_buf_free(&scratch);
  assert_int_equal(sr_file_fmt_guess(fx->path), SR_FILE_PROTO);
}

static void test_open_missing_file(void **state) {
  fixture_t *fx = *state;
  char err[256] = "", path[160];
  snprintf(path, sizeof path, "%s/nope.jsonl", fx->dir);
  assert_null(sr_event_reader_open(path, SR_FILE_JSONL, err, sizeof err));
  assert_non_null(strstr(err, "nope.jsonl"));
}

/* Reads every record of a TSV text; checks users, timestamps and values. */
static void expect_tsv(const char *path, const char *text) {
  char err[256];
  write_text(path, text);
  sr_event_reader_t *rd =
      sr_event_reader_open(path, SR_FILE_TSV, err, sizeof err);
  assert_non_null(rd);
  sr_event_t ev;
  sr_reason_t reason;
  assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err), 1);
  assert_int_equal(reason, SR_REASON_OK);
  assert_string_equal(ev.user_id, "1");
  assert_string_equal(ev.item_id, "1193");
  assert_true(ev.value == 5.0f);
  assert_int_equal(ev.timestamp_ms, 978300760000LL);
  assert_int_equal(ev.type, SR_EV_RATING);
  assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err), 1);
  assert_int_equal(reason, SR_REASON_OK);
  assert_string_equal(ev.item_id, "661");
  assert_true(ev.value == 3.5f);
  assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err), 0);
  sr_event_reader_free(rd);
}

static void test_tsv_separators_and_headers(void **state) {
  fixture_t *fx = *state;
  expect_tsv(fx->path, "1\t1193\t5\t978300760\n1\t661\t3.5\t978302109\n");
  expect_tsv(fx->path, "1::1193::5::978300760\n1::661::3.5::978302109\n");
  expect_tsv(fx->path, "1,1193,5,978300760\n1,661,3.5,978302109\n");
  expect_tsv(fx->path, "user\titem\trating\tts\n1\t1193\t5\t978300760\n"
                       "1\t661\t3.5\t978302109\n");
  expect_tsv(fx->path, "userId,movieId,rating,timestamp\r\n"
                       "1,1193,5.0,978300760\r\n\r\n1,661,3.5,978302109\r\n");
  expect_tsv(fx->path, "\n\nUserID::MovieID::Rating::Timestamp\n"
                       "1::1193::5::978300760\n\n1::661::3.5::978302109");
}

typedef struct expect_rec {
  int rc;
  sr_reason_t reason;
  const char *msg; /* substring of errstr when reason != OK */
} expect_rec_t;

static void expect_records(const char *path, sr_file_fmt_t fmt,
                           const expect_rec_t *want, size_t n) {
  char err[256];
  sr_event_reader_t *rd = sr_event_reader_open(path, fmt, err, sizeof err);
  assert_non_null(rd);
  for (size_t i = 0; i < n; i++) {
    sr_event_t ev;
    sr_reason_t reason = SR_REASON__COUNT;
    err[0] = '\0';
    int rc = sr_event_reader_next(rd, &ev, &reason, err, sizeof err);
    if (rc != want[i].rc || (rc == 1 && reason != want[i].reason) ||
        (want[i].msg && !strstr(err, want[i].msg)))
      fail_msg("record %zu: rc %d reason %s err \"%s\"", i, rc,
               sr_reason_name(reason), err);
  }
  sr_event_reader_free(rd);
}

static void test_tsv_bad_lines(void **state) {
  fixture_t *fx = *state;
  write_text(fx->path, "1\t10\t4\t100\n"
                       "1\t10\t4\n"
                       "2\t11\tfour\t100\n"
                       "\t12\t4\t100\n"
                       "3\t13\tnan\t100\n"
                       "4\t14\t4\tyesterday\n"
                       "5\t15\t4\t100\textra\n"
                       "6\t16\t1\t200\n");
  const expect_rec_t want[] = {
      {1, SR_REASON_OK, NULL},
      {1, SR_REASON_DECODE, "line 2: expected 4 fields"},
      {1, SR_REASON_DECODE, "line 3: value"},
      {1, SR_REASON_EMPTY_ID, "line 4: user_id is empty"},
      {1, SR_REASON_NON_FINITE, "line 5: value"},
      {1, SR_REASON_DECODE, "line 6: unix_ts"},
      {1, SR_REASON_DECODE, "line 7: expected 4 fields"},
      {1, SR_REASON_OK, NULL},
      {0, SR_REASON_OK, NULL},
  };
  expect_records(fx->path, SR_FILE_TSV, want, sizeof want / sizeof want[0]);
}

static void test_tsv_long_id_and_no_separator(void **state) {
  fixture_t *fx = *state;
  char text[1024];
  char id[301];
  memset(id, 'x', 300);
  id[300] = '\0';
  snprintf(text, sizeof text, "no separator here\n1\t%s\t4\t100\n", id);
  write_text(fx->path, text);
  const expect_rec_t want[] = {
      {1, SR_REASON_DECODE, "line 1: no separator"},
      {1, SR_REASON_ID_TOO_LONG, "line 2: item_id is 300 bytes"},
      {0, SR_REASON_OK, NULL},
  };
  expect_records(fx->path, SR_FILE_TSV, want, sizeof want / sizeof want[0]);
}

static void test_jsonl_bad_and_long_lines(void **state) {
  fixture_t *fx = *state;
  size_t pad = 200000;
  char *text = malloc(pad + 512);
  assert_non_null(text);
  int n = sprintf(text, "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":1}\n"
                        "{\"user_id\":\"\",\"item_id\":\"i\",\"type\":1}\n"
                        "   \n"
                        "not json\n"
                        "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":2,"
                        "\"pad\":\"");
  memset(text + n, 'p', pad);
  strcpy(text + n + pad, "\"}\n");
  write_text(fx->path, text);
  free(text);
  const expect_rec_t want[] = {
      {1, SR_REASON_OK, NULL},
      {1, SR_REASON_EMPTY_ID, "line 2: user_id is empty"},
      {1, SR_REASON_DECODE, "line 4: json"},
      {1, SR_REASON_OK, NULL},
      {0, SR_REASON_OK, NULL},
  };
  expect_records(fx->path, SR_FILE_JSONL, want, sizeof want / sizeof want[0]);
}

static void test_raw_record(void **state) {
  fixture_t *fx = *state;
  const char *line = "{\"user_id\":\"u\",\"item_id\":\"i\",\"type\":\"x\"}";
  char text[256], err[256];
  snprintf(text, sizeof text, "%s\r\n", line);
  write_text(fx->path, text);
  sr_event_reader_t *rd =
      sr_event_reader_open(fx->path, SR_FILE_JSONL, err, sizeof err);
  assert_non_null(rd);
  sr_event_t ev;
  sr_reason_t reason;
  assert_int_equal(sr_event_reader_next(rd, &ev, &reason, err, sizeof err), 1);
  assert_int_equal(reason, SR_REASON_UNKNOWN_TYPE);
  size_t len;
  const void *raw = sr_event_reader_raw(rd, &len);
  assert_int_equal(len, strlen(line));
  assert_memory_equal(raw, line, len);
  sr_event_reader_free(rd);
}

static void test_proto_bad_records_are_skipped(void **state) {
  fixture_t *fx = *state;
  /* A zero-length message is a valid, empty Event: rejected, not fatal. */
  static const uint8_t data[] = {0x00, 0x06, 0x0a, 0x01, 'u', 0x12, 0x01,
                                 'i',  0x05, 0x0a, 0x01, 'u', 0x18, 0x07};
  write_file(fx->path, data, sizeof data);
  const expect_rec_t want[] = {
      {1, SR_REASON_EMPTY_ID, "record 1: user_id"},
      {1, SR_REASON_UNKNOWN_TYPE, "record 2: type"},
      {1, SR_REASON_EMPTY_ID, "record 3: item_id"},
      {0, SR_REASON_OK, NULL},
  };
  expect_records(fx->path, SR_FILE_PROTO, want, sizeof want / sizeof want[0]);
}

static void test_proto_truncated_tail(void **state) {
  fixture_t *fx = *state;
  write_events(fx->path, SR_FILE_PROTO, 3);
  FILE *f = fopen(fx->path, "rb+");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(truncate(fx->path, size - 2), 0);
  const expect_rec_t want[] = {
      {1, SR_REASON_OK, NULL},
      {1, SR_REASON_OK, NULL},
      {-1, SR_REASON_OK, "record 3: truncated"},
  };
  expect_records(fx->path, SR_FILE_PROTO, want, sizeof want / sizeof want[0]);
}

static void test_proto_bad_framing(void **state) {
  fixture_t *fx = *state;
  static const uint8_t too_long[] = {0x80, 0x80, 0x80, 0x10, 0x00};
  write_file(fx->path, too_long, sizeof too_long);
  const expect_rec_t want_long[] = {{-1, SR_REASON_OK, "exceeds 16 MiB"}};
  expect_records(fx->path, SR_FILE_PROTO, want_long, 1);
  static const uint8_t cut_prefix[] = {0x00, 0x80};
  write_file(fx->path, cut_prefix, sizeof cut_prefix);
  const expect_rec_t want_cut[] = {{1, SR_REASON_EMPTY_ID, NULL},
                                   {-1, SR_REASON_OK, "length prefix"}};
  expect_records(fx->path, SR_FILE_PROTO, want_cut, 2);
}

static void test_writer_tsv_seconds(void **state) {
  fixture_t *fx = *state;
  sr_event_t ev = make_event(1);
  ev.timestamp_ms = 1999;
  FILE *f = fopen(fx->path, "wb");
  assert_non_null(f);
  assert_int_equal(sr_event_write(f, SR_FILE_TSV, &ev, NULL), 0);
  ev.timestamp_ms = -1;
  assert_int_equal(sr_event_write(f, SR_FILE_TSV, &ev, NULL), 0);
  snprintf(ev.item_id, sizeof ev.item_id, "tab\there");
  assert_int_equal(sr_event_write(f, SR_FILE_TSV, &ev, NULL), -1);
  assert_int_equal(fclose(f), 0);
  char buf[128] = "";
  f = fopen(fx->path, "rb");
  assert_non_null(f);
  assert_true(fread(buf, 1, sizeof buf - 1, f) > 0);
  fclose(f);
  assert_string_equal(buf, "u1\titem-7\t1.5\t1\nu1\titem-7\t1.5\t-1\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_round_trip_each_format, setup,
                                      teardown),
      cmocka_unit_test(test_file_fmt_parse),
      cmocka_unit_test(test_fmt_of_name),
      cmocka_unit_test_setup_teardown(test_fmt_guess_by_content, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_open_missing_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tsv_separators_and_headers, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_tsv_bad_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tsv_long_id_and_no_separator, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_jsonl_bad_and_long_lines, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_raw_record, setup, teardown),
      cmocka_unit_test_setup_teardown(test_proto_bad_records_are_skipped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_proto_truncated_tail, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_proto_bad_framing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writer_tsv_seconds, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
