/* sr_dir_ensure: creates missing parents with the mode asked for, accepts
 * an existing directory, and refuses paths that cannot be directories with
 * SR_ERR_INVALID and a message naming the path. */
#include "util/dir.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "support.h"

typedef struct fixture {
  char dir[64];
  char path[PATH_MAX];
  char err[PATH_MAX + 256];
} fixture_t;

static int setup(void **state) {
  fixture_t *fx = calloc(1, sizeof *fx);
  if (!fx)
    return -1;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/sr-test-dir-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  umask(022);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture_t *fx = *state;
  remove_tree(fx->dir);
  free(fx);
  return 0;
}

/* fx->path = fx->dir + "/" + rel. */
static const char *sub(fixture_t *fx, const char *rel) {
  snprintf(fx->path, sizeof fx->path, "%s/%s", fx->dir, rel);
  return fx->path;
}

static void assert_dir_mode(const char *path, mode_t mode) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 07777, mode);
}

static void test_creates_parents_with_mode(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(
      sr_dir_ensure(sub(fx, "a/b/c"), 0750, fx->err, sizeof fx->err), SR_OK);
  assert_dir_mode(sub(fx, "a"), 0750);
  assert_dir_mode(sub(fx, "a/b"), 0750);
  assert_dir_mode(sub(fx, "a/b/c"), 0750);
  /* The umask still applies, as for mkdir(1). */
  umask(027);
  assert_int_equal(
      sr_dir_ensure(sub(fx, "d//e/"), 0777, fx->err, sizeof fx->err), SR_OK);
  assert_dir_mode(sub(fx, "d"), 0750);
  assert_dir_mode(sub(fx, "d/e"), 0750);
}

static void test_existing_dir_kept(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(chmod(fx->dir, 0711), 0);
  assert_int_equal(sr_dir_ensure(fx->dir, 0750, fx->err, sizeof fx->err),
                   SR_OK);
  assert_dir_mode(fx->dir, 0711);
  assert_int_equal(sr_dir_ensure("/", 0750, NULL, 0), SR_OK);
}

static void test_file_refused(void **state) {
  fixture_t *fx = *state;
  FILE *f = fopen(sub(fx, "file"), "w");
  assert_non_null(f);
  fclose(f);
  assert_int_equal(sr_dir_ensure(fx->path, 0750, fx->err, sizeof fx->err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(fx->err, fx->path));
  assert_non_null(strstr(fx->err, "exists and is not a directory"));

  /* A file where a parent should be. */
  assert_int_equal(
      sr_dir_ensure(sub(fx, "file/x/y"), 0750, fx->err, sizeof fx->err),
      SR_ERR_INVALID);
  assert_non_null(strstr(fx->err, "cannot create"));
  assert_non_null(strstr(fx->err, sub(fx, "file/x")));
  assert_non_null(strstr(fx->err, strerror(ENOTDIR)));
}

static void test_bad_names_refused(void **state) {
  fixture_t *fx = *state;
  assert_int_equal(sr_dir_ensure("", 0750, fx->err, sizeof fx->err),
                   SR_ERR_INVALID);
  char *longest = malloc(PATH_MAX + 1);
  assert_non_null(longest);
  memset(longest, 'x', PATH_MAX);
  longest[PATH_MAX] = '\0';
  assert_int_equal(sr_dir_ensure(longest, 0750, NULL, 0), SR_ERR_INVALID);
  free(longest);
}

/* Root ignores mode bits, so the refusal is only testable as another user. */
static void test_denied_is_io(void **state) {
  fixture_t *fx = *state;
  if (geteuid() == 0)
    skip();
  assert_int_equal(chmod(fx->dir, 0500), 0);
  sr_err_t err = sr_dir_ensure(sub(fx, "x"), 0750, fx->err, sizeof fx->err);
  chmod(fx->dir, 0700);
  assert_int_equal(err, SR_ERR_IO);
  assert_non_null(strstr(fx->err, strerror(EACCES)));
}

static void test_errno_classes(void **state) {
  (void)state;
  assert_int_equal(sr_dir_err(ENOTDIR), SR_ERR_INVALID);
  assert_int_equal(sr_dir_err(ENAMETOOLONG), SR_ERR_INVALID);
  assert_int_equal(sr_dir_err(ELOOP), SR_ERR_INVALID);
  assert_int_equal(sr_dir_err(EACCES), SR_ERR_IO);
  assert_int_equal(sr_dir_err(EROFS), SR_ERR_IO);
  assert_int_equal(sr_dir_err(ENOSPC), SR_ERR_IO);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_creates_parents_with_mode),
      T(test_existing_dir_kept),
      T(test_file_refused),
      T(test_bad_names_refused),
      T(test_denied_is_io),
      T(test_errno_classes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
