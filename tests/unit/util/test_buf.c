/* sr_buf: appends and printf grow the buffer and keep what it held, bytes
 * are copied as given (NULs included), a size that cannot be represented
 * fails without touching the contents, and free leaves an empty buffer that
 * can be used again. */
#include "util/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_append_grows_and_keeps(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  char chunk[100];
  /* Far past the first allocation, so that it has to move several times. */
  for (int i = 0; i < 100; i++) {
    memset(chunk, 'a' + i % 26, sizeof(chunk));
    assert_int_equal(sr_buf_append(&buf, chunk, sizeof(chunk)), 0);
  }
  assert_int_equal(buf.len, 100 * sizeof(chunk));
  assert_true(buf.cap >= buf.len);
  for (size_t i = 0; i < buf.len; i++)
    assert_int_equal(buf.data[i], 'a' + (int)(i / sizeof(chunk)) % 26);
  sr_buf_free(&buf);
}

static void test_append_nothing(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  assert_int_equal(sr_buf_append(&buf, "x", 1), 0);
  assert_int_equal(sr_buf_append(&buf, NULL, 0), 0);
  assert_int_equal(buf.len, 1);
  assert_memory_equal(buf.data, "x", 1);
  sr_buf_free(&buf);
}

static void test_embedded_nuls(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  const char bytes[] = {'a', '\0', 'b', '\0', '\0', 'c'};
  assert_int_equal(sr_buf_append(&buf, bytes, sizeof(bytes)), 0);
  assert_int_equal(sr_buf_append(&buf, bytes, sizeof(bytes)), 0);
  assert_int_equal(buf.len, 2 * sizeof(bytes));
  assert_memory_equal(buf.data, bytes, sizeof(bytes));
  assert_memory_equal(buf.data + sizeof(bytes), bytes, sizeof(bytes));
  sr_buf_free(&buf);
}

/* printf appends after what is there and counts no NUL, though one follows
 * the text so that it can be read as a string. */
static void test_printf(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  assert_int_equal(sr_buf_append(&buf, "k=", 2), 0);
  assert_int_equal(sr_buf_printf(&buf, "%d %s", 42, "forty-two"), 0);
  assert_int_equal(buf.len, strlen("k=42 forty-two"));
  assert_memory_equal(buf.data, "k=42 forty-two", buf.len);
  assert_int_equal(buf.data[buf.len], '\0');
  assert_int_equal(sr_buf_printf(&buf, "%s", ""), 0);
  assert_int_equal(buf.len, strlen("k=42 forty-two"));
  sr_buf_free(&buf);
}

static void test_printf_grows(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  char line[64];
  size_t want = 0;
  for (int i = 0; i < 1000; i++) {
    int n = snprintf(line, sizeof(line), "line %d of many\n", i);
    assert_int_equal(sr_buf_printf(&buf, "line %d of many\n", i), 0);
    want += (size_t)n;
  }
  assert_int_equal(buf.len, want);
  assert_memory_equal(buf.data, "line 0 of many\nline 1 of many\n", 30);
  assert_memory_equal(buf.data + buf.len - strlen(line), line, strlen(line));
  /* A single piece longer than everything so far. */
  char big[5000];
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  assert_int_equal(sr_buf_printf(&buf, "[%s]", big), 0);
  assert_int_equal(buf.len, want + sizeof(big) + 1);
  assert_int_equal(buf.data[want], '[');
  assert_int_equal(buf.data[buf.len - 1], ']');
  assert_int_equal(buf.data[buf.len], '\0');
  sr_buf_free(&buf);
}

/* Room reserved is room appends then use without moving the data. */
static void test_reserve(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  assert_int_equal(sr_buf_reserve(&buf, 10000), 0);
  assert_true(buf.cap >= 10000);
  assert_int_equal(buf.len, 0);
  const char *data = buf.data;
  char chunk[1000] = {0};
  for (int i = 0; i < 10; i++)
    assert_int_equal(sr_buf_append(&buf, chunk, sizeof(chunk)), 0);
  assert_ptr_equal(buf.data, data);
  sr_buf_free(&buf);
}

/* A length that, added to what the buffer holds, does not fit in a size_t
 * is refused, and the contents stay. */
static void test_reserve_overflow(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  assert_int_equal(sr_buf_append(&buf, "keep", 4), 0);
  size_t cap = buf.cap;
  assert_int_equal(sr_buf_reserve(&buf, SIZE_MAX), -1);
  assert_int_equal(sr_buf_reserve(&buf, SIZE_MAX - 3), -1);
  assert_int_equal(buf.len, 4);
  assert_int_equal(buf.cap, cap);
  assert_memory_equal(buf.data, "keep", 4);
  sr_buf_free(&buf);
}

static void test_free_resets(void **state) {
  (void)state;
  sr_buf_t buf = {0};
  assert_int_equal(sr_buf_printf(&buf, "%s", "something"), 0);
  sr_buf_free(&buf);
  assert_null(buf.data);
  assert_int_equal(buf.len, 0);
  assert_int_equal(buf.cap, 0);
  /* Freeing twice is harmless, and a freed buffer is an empty one. */
  sr_buf_free(&buf);
  assert_int_equal(sr_buf_append(&buf, "again", 5), 0);
  assert_int_equal(buf.len, 5);
  assert_memory_equal(buf.data, "again", 5);
  sr_buf_free(&buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_grows_and_keeps),
      cmocka_unit_test(test_append_nothing),
      cmocka_unit_test(test_embedded_nuls),
      cmocka_unit_test(test_printf),
      cmocka_unit_test(test_printf_grows),
      cmocka_unit_test(test_reserve),
      cmocka_unit_test(test_reserve_overflow),
      cmocka_unit_test(test_free_resets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
