/* Tests of the option engine with a table of its own: defaults of every
 * type, setting from text with ranges and choices, errors that name the
 * key, checks of a filled struct, JSON documents nested and dotted with
 * duplicates refused, keys outside the tables, and the reference in text
 * and Markdown. */
#include "util/opts.h"

#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef enum color { COLOR_RED, COLOR_GREEN, COLOR_BLUE } color_t;

typedef struct inner {
  uint32_t depth;
  float rate;
} inner_t;

typedef struct demo {
  uint32_t count;
  uint64_t seed;
  int64_t skew;
  double period;
  char name[8];
  color_t color;
  inner_t inner; /* loaded by a table of its own */
  int untouched; /* in no table */
  char extra[32];
} demo_t;

static const sr_opt_t demo_rows[] = {
    SR_OPT_ROW_U32(demo_t, "count", count, "5", 1, 100, "how many"),
    SR_OPT_ROW_U64(demo_t, "seed", seed, "42", 0, 9e18, "the seed"),
    SR_OPT_ROW_I64(demo_t, "skew", skew, "-3", -10, 10, "a signed skew"),
    SR_OPT_ROW_F64(demo_t, "period", period, "0.5", 0.05, 60, "seconds"),
    SR_OPT_ROW_STR(demo_t, "name", name, "", "a short name"),
    SR_OPT_ROW_ENUM(demo_t, "color", color, "green", "red|green|blue",
                    "the colour (a|b)"),
};

static const sr_opt_t inner_rows[] = {
    SR_OPT_ROW_U32(inner_t, "inner.depth", depth, "3", 0, 9, "depth"),
    SR_OPT_ROW_F32(inner_t, "inner.rate", rate, "0.25", 1e-6, 1, "a rate"),
};

/* Takes "extra.NAME" keys, as the daemon takes kafka.properties.NAME. */
static sr_err_t set_extra(void *obj, const char *key, const char *value,
                          char *errstr, size_t errlen) {
  demo_t *demo = obj;
  if (strncmp(key, "extra.", 6))
    return SR_ERR_NOT_FOUND;
  if (!strcmp(value, "bad")) {
    snprintf(errstr, errlen, "%s: refused", key);
    return SR_ERR_INVALID;
  }
  snprintf(demo->extra, sizeof demo->extra, "%s=%s", key + 6, value);
  return SR_OK;
}

static const sr_opt_table_t demo_tables[] = {
    {inner_rows, 2, offsetof(demo_t, inner)},
    {demo_rows, 6, 0},
};
static const sr_opts_t demo_opts = {demo_tables, 2, set_extra};

static void demo_init(demo_t *demo) {
  memset(demo, 0, sizeof *demo);
  demo->untouched = 7;
  sr_opts_defaults(&demo_opts, demo);
}

/* Sets key to value and expects SR_ERR_INVALID with exactly want. */
static void refused(const char *key, const char *value, const char *want) {
  demo_t demo, before;
  char err[256] = "";
  demo_init(&demo);
  memcpy(&before, &demo, sizeof demo);
  if (sr_opts_set(&demo_opts, &demo, key, value, err, sizeof err) !=
      SR_ERR_INVALID)
    fail_msg("%s = '%s' was taken", key, value);
  assert_string_equal(err, want);
  /* A refused value leaves the field as it was. */
  assert_memory_equal(&demo, &before, sizeof demo);
}

static void set_ok(demo_t *demo, const char *key, const char *value) {
  char err[256] = "";
  if (sr_opts_set(&demo_opts, demo, key, value, err, sizeof err) != SR_OK)
    fail_msg("%s = '%s' refused: %s", key, value, err);
}

static void test_defaults_of_every_type(void **state) {
  (void)state;
  demo_t demo;
  demo_init(&demo);
  assert_int_equal(demo.count, 5);
  assert_true(demo.seed == 42);
  assert_true(demo.skew == -3);
  assert_true(demo.period == 0.5);
  assert_string_equal(demo.name, "");
  assert_int_equal(demo.color, COLOR_GREEN);
  assert_int_equal(demo.inner.depth, 3);
  assert_true(demo.inner.rate == 0.25f);
  assert_int_equal(demo.untouched, 7);
  char err[256];
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err), SR_OK);
}

static void test_set_every_type(void **state) {
  (void)state;
  demo_t demo;
  demo_init(&demo);
  set_ok(&demo, "count", "100");
  set_ok(&demo, "seed", "9000000000000000000");
  set_ok(&demo, "skew", "-10");
  set_ok(&demo, "period", "1e1");
  set_ok(&demo, "name", "seven77");
  set_ok(&demo, "color", "blue");
  set_ok(&demo, "inner.depth", "0");
  set_ok(&demo, "inner.rate", "1e-6");
  assert_int_equal(demo.count, 100);
  assert_true(demo.seed == 9000000000000000000ull);
  assert_true(demo.skew == -10);
  assert_true(demo.period == 10.0);
  assert_string_equal(demo.name, "seven77");
  assert_int_equal(demo.color, COLOR_BLUE);
  assert_int_equal(demo.inner.depth, 0);
  assert_true(demo.inner.rate == 1e-6f);
  /* The bounds as stored (1e-6 as a float) pass the check. */
  char err[256];
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err), SR_OK);
}

static void test_bad_values_name_the_key(void **state) {
  (void)state;
  refused("count", "0", "count: 0 is out of range [1, 100]");
  refused("count", "101", "count: 101 is out of range [1, 100]");
  refused("count", "1.5", "count: '1.5' is not an integer");
  refused("count", "", "count: '' is not a number");
  refused("count", "5x", "count: '5x' is not a number");
  refused("skew", "-11", "skew: -11 is out of range [-10, 10]");
  refused("period", "nan", "period: 'nan' is not a number");
  refused("period", "inf", "period: 'inf' is not a number");
  refused("period", "1e400", "period: '1e400' is not a number");
  refused("period", "0.01", "period: 0.01 is out of range [0.05, 60]");
  refused("inner.rate", "2", "inner.rate: 2 is out of range [1e-06, 1]");
  refused("color", "pink", "color: 'pink' is not one of red|green|blue");
  refused("color", "", "color: '' is not one of red|green|blue");
  refused("name", "eight888", "name: value longer than 7 bytes");
}

static void test_unknown_and_other_keys(void **state) {
  (void)state;
  demo_t demo;
  char err[256] = "";
  demo_init(&demo);
  assert_int_equal(sr_opts_set(&demo_opts, &demo, "nope", "1", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "unknown option 'nope'");
  /* A table's name prefix is not an option. */
  assert_int_equal(
      sr_opts_set(&demo_opts, &demo, "inner", "1", err, sizeof err),
      SR_ERR_INVALID);
  assert_string_equal(err, "unknown option 'inner'");
  set_ok(&demo, "extra.x", "y");
  assert_string_equal(demo.extra, "x=y");
  assert_int_equal(
      sr_opts_set(&demo_opts, &demo, "extra.x", "bad", err, sizeof err),
      SR_ERR_INVALID);
  assert_string_equal(err, "extra.x: refused");
  /* Without a setter of other keys, those are unknown too. */
  sr_opts_t tables_only = {demo_tables, 2, NULL};
  assert_int_equal(
      sr_opts_set(&tables_only, &demo, "extra.x", "y", err, sizeof err),
      SR_ERR_INVALID);
  assert_string_equal(err, "unknown option 'extra.x'");
  /* A near miss names the option it most likely meant. */
  static const char *const near[][2] = {
      {"coutn", "count"},          /* two letters swapped */
      {"inner.rat", "inner.rate"}, /* one left out */
      {"inner.deptth", "inner.depth"},
      {"depth", "inner.depth"}, /* without its table's prefix */
  };
  for (size_t i = 0; i < sizeof near / sizeof near[0]; i++) {
    char want[128];
    snprintf(want, sizeof want, "unknown option '%s' (did you mean '%s'?)",
             near[i][0], near[i][1]);
    assert_int_equal(
        sr_opts_set(&demo_opts, &demo, near[i][0], "1", err, sizeof err),
        SR_ERR_INVALID);
    assert_string_equal(err, want);
  }
  assert_null(sr_opts_suggest(&demo_opts, "nope"));
  assert_null(sr_opts_suggest(&demo_opts, "inner.nope"));
  size_t base = 1;
  const sr_opt_t *opt = sr_opts_find(&demo_opts, "inner.rate", &base);
  assert_non_null(opt);
  assert_int_equal(opt->type, SR_OPT_F32);
  assert_int_equal(base, offsetof(demo_t, inner));
  assert_null(sr_opts_find(&demo_opts, "extra.x", NULL));
}

static void test_set_kv(void **state) {
  (void)state;
  demo_t demo;
  char err[256] = "";
  demo_init(&demo);
  assert_int_equal(
      sr_opts_set_kv(&demo_opts, &demo, "inner.depth=9", err, sizeof err),
      SR_OK);
  assert_int_equal(demo.inner.depth, 9);
  /* Only the first '=' separates; the value may hold more. */
  assert_int_equal(
      sr_opts_set_kv(&demo_opts, &demo, "extra.a=b=c", err, sizeof err), SR_OK);
  assert_string_equal(demo.extra, "a=b=c");
  assert_int_equal(sr_opts_set_kv(&demo_opts, &demo, "count", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "--set expects key=value, got 'count'");
  assert_int_equal(sr_opts_set_kv(&demo_opts, &demo, "=4", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "--set expects key=value, got '=4'");
  assert_int_equal(
      sr_opts_set_kv(&demo_opts, &demo, "count=0", err, sizeof err),
      SR_ERR_INVALID);
  assert_string_equal(err, "count: 0 is out of range [1, 100]");
}

static sr_err_t load(demo_t *demo, const char *json, char *err, size_t len) {
  demo_init(demo);
  return sr_opts_load_json(&demo_opts, demo, json, strlen(json), "doc.json",
                           err, len);
}

static void test_json_nested_and_dotted(void **state) {
  (void)state;
  demo_t demo;
  char err[256] = "";
  assert_int_equal(load(&demo,
                        "{\"inner\": {\"depth\": 8}, \"inner.rate\": 0.5,"
                        " \"count\": 7, \"period\": 2.25, \"seed\": 1e3,"
                        " \"color\": \"red\", \"name\": \"n\","
                        " \"extra\": {\"k\": true}}",
                        err, sizeof err),
                   SR_OK);
  assert_int_equal(demo.inner.depth, 8);
  assert_true(demo.inner.rate == 0.5f);
  assert_int_equal(demo.count, 7);
  assert_true(demo.period == 2.25);
  assert_true(demo.seed == 1000);
  assert_int_equal(demo.color, COLOR_RED);
  assert_string_equal(demo.name, "n");
  assert_string_equal(demo.extra, "k=true");
  assert_int_equal(demo.untouched, 7);
}

static void test_json_refusals(void **state) {
  (void)state;
  demo_t demo;
  char err[256] = "";
  assert_int_equal(load(&demo,
                        "{\"inner\": {\"depth\": 8}, \"inner.depth\": 9}", err,
                        sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(
      err, "doc.json: inner.depth: given more than once (nested and dotted)");
  assert_int_equal(load(&demo, "{\"count\": 8, \"count\": 9}", err, sizeof err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "doc.json:1: duplicate object key"));
  assert_int_equal(load(&demo, "{\"count\": [1]}", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: count: arrays and null are not accepted");
  assert_int_equal(
      load(&demo, "{\"inner\": {\"rate\": null}}", err, sizeof err),
      SR_ERR_INVALID);
  assert_string_equal(err,
                      "doc.json: inner.rate: arrays and null are not accepted");
  assert_int_equal(load(&demo, "[1]", err, sizeof err), SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: top level must be a JSON object");
  assert_int_equal(load(&demo, "{\"count\": 1.5}", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: count: '1.5' is not an integer");
  assert_int_equal(load(&demo, "{\"count\": false}", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: count: 'false' is not a number");
  assert_int_equal(load(&demo, "{\"inner\": {\"nope\": 1}}", err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: unknown option 'inner.nope'");
  assert_int_equal(load(&demo, "{bad", err, sizeof err), SR_ERR_INVALID);
  assert_non_null(strstr(err, "doc.json:1: "));
  /* A string longer than any buffer reaches its row whole. */
  char json[600];
  snprintf(json, sizeof json, "{\"name\": \"%0500d\"}", 0);
  assert_int_equal(load(&demo, json, err, sizeof err), SR_ERR_INVALID);
  assert_string_equal(err, "doc.json: name: value longer than 7 bytes");
}

static void test_json_file(void **state) {
  (void)state;
  char path[] = "/tmp/sr-test-opts-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *json = "{\"inner.depth\": 4, \"color\": \"blue\"}\n";
  assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
  close(fd);
  demo_t demo;
  char err[256] = "";
  demo_init(&demo);
  assert_int_equal(sr_opts_load_file(&demo_opts, &demo, path, err, sizeof err),
                   SR_OK);
  assert_int_equal(demo.inner.depth, 4);
  assert_int_equal(demo.color, COLOR_BLUE);
  unlink(path);
  assert_int_equal(sr_opts_load_file(&demo_opts, &demo, path, err, sizeof err),
                   SR_ERR_INVALID);
  assert_true(!strncmp(err, path, strlen(path)));
}

/* sr_opts_check refuses what a caller stored past a row's limits. */
static void test_check_refuses_filled_values(void **state) {
  (void)state;
  demo_t demo;
  char err[256] = "";
  demo_init(&demo);
  demo.count = 0;
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "count: 0 is out of range [1, 100]");
  demo_init(&demo);
  demo.inner.rate = NAN;
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "inner.rate: nan is out of range [1e-06, 1]");
  demo_init(&demo);
  demo.color = (color_t)3;
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err,
                      "color: 3 is not the index of one of red|green|blue");
  demo_init(&demo);
  memset(demo.name, 'x', sizeof demo.name);
  assert_int_equal(sr_opts_check(&demo_opts, &demo, err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "name: value longer than 7 bytes");
  demo_init(&demo);
  demo.skew = -11;
  assert_int_equal(sr_opt_check(&demo_rows[2], &demo, err, sizeof err),
                   SR_ERR_INVALID);
  assert_string_equal(err, "skew: -11 is out of range [-10, 10]");
}

static char *printed(void (*print)(FILE *, const char *), const char *prefix) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  print(out, prefix);
  fclose(out);
  return text;
}

static void print_help(FILE *out, const char *prefix) {
  sr_opts_print_help(&demo_opts, out, prefix);
}

static void print_markdown(FILE *out, const char *prefix) {
  (void)prefix;
  sr_opts_print_markdown(&demo_opts, out);
}

static void test_reference(void **state) {
  (void)state;
  char *text = printed(print_help, "inner.");
  assert_string_equal(text,
                      "  inner.depth                depth (uint, default '3')\n"
                      "  inner.rate                 a rate (float, default "
                      "'0.25')\n");
  free(text);
  text = printed(print_help, NULL);
  assert_non_null(strstr(text, "  seed                       the seed (int, "
                               "default '42')\n"));
  assert_non_null(strstr(text, "  skew                       a signed skew "
                               "(int, default '-3')\n"));
  assert_non_null(strstr(text, "  name                       a short name "
                               "(string, default '')\n"));
  assert_non_null(strstr(text, "  color                      the colour (a|b) "
                               "(red|green|blue, default 'green')\n"));
  free(text);
  text = printed(print_markdown, NULL);
  const char *head = "| option | type | default | meaning |\n"
                     "|---|---|---|---|\n"
                     "| `inner.depth` | uint | `3` | depth |\n";
  assert_true(!strncmp(text, head, strlen(head)));
  assert_non_null(strstr(text, "| `period` | float | `0.5` | seconds |\n"));
  assert_non_null(
      strstr(text, "| `name` | string | (empty) | a short name |\n"));
  assert_non_null(strstr(text, "| `color` | red\\|green\\|blue | `green` | "
                               "the colour (a\\|b) |\n"));
  free(text);
}

/* A table whose default does not parse is a bug: it stops at once rather
 * than running with a field nobody set. */
static void test_bad_default_aborts(void **state) {
  (void)state;
  static const sr_opt_t bad_rows[] = {
      SR_OPT_ROW_U32(demo_t, "count", count, "0", 1, 100, "below range"),
  };
  static const sr_opt_table_t bad_table = {bad_rows, 1, 0};
  static const sr_opts_t bad = {&bad_table, 1, NULL};
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    demo_t demo;
    sr_opts_defaults(&bad, &demo);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status));
  assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_of_every_type),
      cmocka_unit_test(test_set_every_type),
      cmocka_unit_test(test_bad_values_name_the_key),
      cmocka_unit_test(test_unknown_and_other_keys),
      cmocka_unit_test(test_set_kv),
      cmocka_unit_test(test_json_nested_and_dotted),
      cmocka_unit_test(test_json_refusals),
      cmocka_unit_test(test_json_file),
      cmocka_unit_test(test_check_refuses_filled_values),
      cmocka_unit_test(test_reference),
      cmocka_unit_test(test_bad_default_aborts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
