/* Tests of item files: MovieLens movies.dat, movies.csv and u.item lines
 * become genre, year, decade and title-word features; a file of JSON and
 * TSV Item lines keeps each line's content; bad lines are counted, not
 * fatal; a file whose name says nothing is known by its first line. */
#include "codec/item_file.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_SEEN 8

typedef struct seen {
  int n;
  char ids[MAX_SEEN][SR_ID_MAX + 1];
  char feats[MAX_SEEN][256]; /* the features joined by spaces */
  size_t emb[MAX_SEEN];
} seen_t;

static int collect(void *opaque, const sr_item_t *item,
                   const sr_item_content_t *ct) {
  seen_t *s = opaque;
  assert_true(s->n < MAX_SEEN);
  snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", item->item_id);
  char *out = s->feats[s->n];
  out[0] = '\0';
  for (size_t k = 0; k < ct->n_features; k++)
    snprintf(out + strlen(out), sizeof(s->feats[0]) - strlen(out), "%s%s",
             k ? " " : "", ct->features[k]);
  s->emb[s->n++] = ct->n_embedding;
  return 0;
}

/* Writes text to a file named name in a fresh directory; returns the path
 * (static storage). */
static const char *file_with(const char *name, const char *text) {
  static char path[256];
  static char dir[] = "/tmp/sr_item_file_XXXXXX";
  static int made;
  if (!made) {
    assert_non_null(mkdtemp(dir));
    made = 1;
  }
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static seen_t read_file(const char *path, uint64_t *rejected) {
  seen_t s = {0};
  char err[256] = "";
  *rejected = 0;
  assert_int_equal(
      sr_item_file_read(path, 0, collect, &s, rejected, err, sizeof err), 0);
  unlink(path);
  return s;
}

static void test_movies_dat(void **state) {
  (void)state;
  uint64_t bad;
  seen_t s = read_file(file_with("movies.dat",
                                 "0004936::The Bank (1915)::Comedy|Short\n"
                                 "x\n"),
                       &bad);
  assert_int_equal(s.n, 1);
  assert_int_equal(bad, 1);
  assert_string_equal(s.ids[0], "0004936");
  assert_string_equal(s.feats[0],
                      "year:1915 decade:1910 title:bank genre:Comedy "
                      "genre:Short");
}

static void test_movies_csv(void **state) {
  (void)state;
  uint64_t bad;
  seen_t s =
      read_file(file_with("movies.csv",
                          "movieId,title,genres\n"
                          "1,Toy Story (1995),Adventure|Animation\n"
                          "11,\"American President, The (1995)\",Comedy|Drama\n"
                          "12,Untitled,(no genres listed)\n"),
                &bad);
  assert_int_equal(bad, 0);
  assert_int_equal(s.n, 3);
  assert_string_equal(s.feats[0], "year:1995 decade:1990 title:toy "
                                  "title:story genre:Adventure "
                                  "genre:Animation");
  assert_string_equal(s.ids[1], "11");
  assert_string_equal(s.feats[1], "year:1995 decade:1990 title:american "
                                  "title:president genre:Comedy genre:Drama");
  assert_string_equal(s.feats[2], "title:untitled");
}

static void test_u_item(void **state) {
  (void)state;
  uint64_t bad;
  seen_t s = read_file(
      file_with("u.item", "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|"
                          "1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"),
      &bad);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.feats[0], "year:1995 decade:1990 title:toy "
                                  "title:story genre:Animation "
                                  "genre:Children's genre:Comedy");
}

static void test_item_lines(void **state) {
  (void)state;
  uint64_t bad;
  seen_t s = read_file(
      file_with("items.jsonl",
                "{\"item_id\":\"a\",\"features\":[\"f\"],\"embedding\":[1,2]}\n"
                "b\tx|y\t1 2 3\n"
                "{\"item_id\":\"\"}\n"),
      &bad);
  assert_int_equal(bad, 1);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.feats[0], "f");
  assert_int_equal(s.emb[0], 2);
  assert_string_equal(s.ids[1], "b");
  assert_string_equal(s.feats[1], "x y");
  assert_int_equal(s.emb[1], 3);
  char err[128];
  assert_int_equal(sr_item_file_read("/nonexistent/items", 0, collect, &s, &bad,
                                     err, sizeof err),
                   -1);
}

/* Under a name that says nothing (a renamed or downloaded copy), each
 * MovieLens form is known by its first line, and the Item lines stay
 * Item lines. */
static void test_form_from_first_line(void **state) {
  (void)state;
  static const struct {
    const char *text, *feats;
  } files[] = {
      {"1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|"
       "0|0|0|0|0\n",
       "year:1995 decade:1990 title:toy title:story genre:Animation "
       "genre:Children's genre:Comedy"},
      {"2::Jumanji (1995)::Adventure\n",
       "year:1995 decade:1990 title:jumanji genre:Adventure"},
      {"movieId,title,genres\n3,\"Heat, The (1995)\",Action\n",
       "year:1995 decade:1990 title:heat genre:Action"},
      {"c\ta|b::c\n", "a b::c"},
  };
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    uint64_t bad;
    seen_t s = read_file(file_with("catalogue", files[i].text), &bad);
    assert_int_equal(bad, 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.feats[0], files[i].feats);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_movies_dat),
      cmocka_unit_test(test_movies_csv),
      cmocka_unit_test(test_u_item),
      cmocka_unit_test(test_item_lines),
      cmocka_unit_test(test_form_from_first_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
