/* Helpers shared by the unit tests. Include after <cmocka.h>. */
#ifndef SR_TEST_SUPPORT_H
#define SR_TEST_SUPPORT_H

#include "core/synth.h"
#include "store/checkpoint.h"
#include "streamrec/model.h"
#include "util/offset.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where stderr goes while it is captured, and where it went before. */
typedef struct stderr_capture {
  FILE *file;
  int saved;
} stderr_capture_t;

static inline stderr_capture_t *stderr_capture(void) {
  static stderr_capture_t cap = {NULL, -1};
  return &cap;
}

/* Sends stderr to a temporary file until captured() is called. */
static inline void capture_start(void) {
  stderr_capture_t *cap = stderr_capture();
  fflush(stderr);
  cap->file = tmpfile();
  assert_non_null(cap->file);
  cap->saved = dup(2);
  assert_true(cap->saved >= 0);
  assert_true(dup2(fileno(cap->file), 2) >= 0);
}

/* Restores stderr and returns what was written meanwhile (free it). */
static inline char *captured(void) {
  stderr_capture_t *cap = stderr_capture();
  fflush(stderr);
  assert_true(dup2(cap->saved, 2) >= 0);
  close(cap->saved);
  long len = ftell(cap->file);
  assert_true(len >= 0);
  char *text = calloc(1, (size_t)len + 1);
  assert_non_null(text);
  rewind(cap->file);
  assert_int_equal(fread(text, 1, (size_t)len, cap->file), (size_t)len);
  fclose(cap->file);
  return text;
}

/* Fills o with the next offset off of topic's partition part. */
static inline void set_offset(sr_offset_t *o, const char *topic, int32_t part,
                              int64_t off) {
  memset(o, 0, sizeof *o);
  snprintf(o->topic, sizeof o->topic, "%s", topic);
  o->partition = part;
  o->offset = off;
}

/* Removes a file or a directory tree (test scratch space). */
static inline void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[PATH_MAX];
    while (d && (de = readdir(d)) != NULL) {
      if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
        continue;
      int len = snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
      if (len > 0 && (size_t)len < sizeof sub)
        remove_tree(sub);
    }
    if (d)
      closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* A new model of conf; fails the test with sr_model_new's reason. */
static inline sr_model_t *model_with(const sr_model_conf_t *conf) {
  char err[256] = "";
  sr_model_t *mdl = sr_model_new(conf, err, sizeof err);
  if (!mdl)
    fail_msg("sr_model_new: %s", err);
  return mdl;
}

/* The model restored from snap; fails the test with the reason. */
static inline sr_model_t *restore_of(const sr_model_conf_t *conf,
                                     const sr_model_snapshot_t *snap) {
  char err[256] = "";
  sr_model_t *out = NULL;
  sr_err_t rc = sr_model_restore(conf, snap, &out, err, sizeof err);
  if (rc != SR_OK)
    fail_msg("restore: %s (%s)", sr_err_str(rc), err);
  return out;
}

/* An event of user on item (ids copied, their lengths set). */
static inline sr_event_t event_for(const char *user, const char *item,
                                   sr_event_type_t type, float value,
                                   int64_t ts) {
  sr_event_t ev;
  memset(&ev, 0, sizeof ev);
  snprintf(ev.user_id, sizeof ev.user_id, "%s", user);
  snprintf(ev.item_id, sizeof ev.item_id, "%s", item);
  ev.user_len = (uint16_t)strlen(ev.user_id);
  ev.item_len = (uint16_t)strlen(ev.item_id);
  ev.type = type;
  ev.value = value;
  ev.timestamp_ms = ts;
  return ev;
}

/* Reads the synthetic stream into memory. */
static inline sr_event_t *synth_events(uint32_t users, uint32_t items, size_t n,
                                       uint64_t seed) {
  sr_synth_conf_t sc;
  sr_synth_conf_init(&sc);
  sc.users = users;
  sc.items = items;
  sc.events = n;
  sc.seed = seed;
  sr_synth_t *syn = sr_synth_new(&sc);
  sr_event_t *evs = malloc(n * sizeof *evs);
  assert_true(syn && evs);
  for (size_t k = 0; k < n; k++)
    assert_int_equal(sr_synth_next(syn, &evs[k]), 1);
  sr_synth_free(syn);
  return evs;
}

/* Learns events [from, to). */
static inline void learn_all(sr_model_t *mdl, const sr_event_t *evs,
                             size_t from, size_t to) {
  for (size_t k = from; k < to; k++)
    assert_int_equal(sr_model_learn(mdl, &evs[k], NULL), SR_OK);
}

#endif
