/* The option engine: setting, checking, loading and printing rows of
 * option tables; see opts.h. */
#include "util/opts.h"

#include "util/err.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Index of value in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *value) {
  size_t vlen = strlen(value);
  int idx = 0;
  for (const char *p = choices;; idx++) {
    size_t len = strcspn(p, "|");
    if (len == vlen && !strncmp(p, value, len))
      return idx;
    if (!p[len])
      return -1;
    p += len + 1;
  }
}

/* Number of names in "a|b|c". */
static int choice_count(const char *choices) {
  int count = 1;
  for (const char *p = choices; *p; p++)
    count += *p == '|';
  return count;
}

static bool is_integer(sr_opt_type_t type) {
  return type == SR_OPT_U32 || type == SR_OPT_U64 || type == SR_OPT_I64;
}

static sr_err_t parse_number(const sr_opt_t *opt, const char *value,
                             double *out, char *errstr, size_t errlen) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  if (!*value || *end || errno || !isfinite(v))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: '%s' is not a number",
                   opt->name, value);
  if (is_integer(opt->type) && v != floor(v))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: '%s' is not an integer",
                   opt->name, value);
  if (v < opt->min || v > opt->max)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s is out of range [%g, %g]", opt->name, value,
                   opt->min, opt->max);
  *out = v;
  return SR_OK;
}

/* Stores v into a number field (an enum's index included). memcpy, as
 * fields of a packed or foreign struct need not be aligned for their
 * type. */
static void store_number(const sr_opt_t *opt, char *field, double v) {
  uint32_t u32 = (uint32_t)v;
  uint64_t u64;
  int64_t i64;
  float f32;
  switch (opt->type) {
  case SR_OPT_U64:
    u64 = (uint64_t)v;
    memcpy(field, &u64, sizeof(u64));
    break;
  case SR_OPT_I64:
    i64 = (int64_t)v;
    memcpy(field, &i64, sizeof(i64));
    break;
  case SR_OPT_F32:
    f32 = (float)v;
    memcpy(field, &f32, sizeof(f32));
    break;
  case SR_OPT_F64: memcpy(field, &v, sizeof(v)); break;
  default: memcpy(field, &u32, sizeof(u32)); break;
  }
}

/* A number field (an enum's index included) as a double. */
static double load_number(const sr_opt_t *opt, const char *field) {
  uint32_t u32;
  uint64_t u64;
  int64_t i64;
  float f32;
  double f64;
  switch (opt->type) {
  case SR_OPT_U64: memcpy(&u64, field, sizeof(u64)); return (double)u64;
  case SR_OPT_I64: memcpy(&i64, field, sizeof(i64)); return (double)i64;
  case SR_OPT_F32: memcpy(&f32, field, sizeof(f32)); return f32;
  case SR_OPT_F64: memcpy(&f64, field, sizeof(f64)); return f64;
  default: memcpy(&u32, field, sizeof(u32)); return u32;
  }
}

sr_err_t sr_opt_set(const sr_opt_t *opt, void *base, const char *value,
                    char *errstr, size_t errlen) {
  char *field = (char *)base + opt->offset;
  double v = 0;
  if (opt->type == SR_OPT_STR) {
    if (strlen(value) >= opt->size)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: value longer than %zu bytes", opt->name,
                     opt->size - 1);
    strcpy(field, value);
    return SR_OK;
  }
  if (opt->type == SR_OPT_ENUM) {
    int idx = choice_index(opt->choices, value);
    if (idx < 0)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: '%s' is not one of %s", opt->name, value,
                     opt->choices);
    v = idx;
  } else {
    sr_err_t err = parse_number(opt, value, &v, errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  store_number(opt, field, v);
  return SR_OK;
}

sr_err_t sr_opt_check(const sr_opt_t *opt, const void *base, char *errstr,
                      size_t errlen) {
  const char *field = (const char *)base + opt->offset;
  if (opt->type == SR_OPT_STR) {
    if (!memchr(field, '\0', opt->size))
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: value longer than %zu bytes", opt->name,
                     opt->size - 1);
    return SR_OK;
  }
  double v = load_number(opt, field);
  if (opt->type == SR_OPT_ENUM) {
    if (v >= choice_count(opt->choices))
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "%s: %.0f is not the index of one of %s", opt->name, v,
                     opt->choices);
    return SR_OK;
  }
  double lo = opt->min, hi = opt->max;
  /* A float field holds the bounds as sr_opt_set stored them: 1e-6 as a
   * float is a little below 1e-6. */
  if (opt->type == SR_OPT_F32) {
    lo = (float)lo;
    hi = (float)hi;
  }
  /* Written so that NaN fails too. */
  if (!(v >= lo && v <= hi))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %.9g is out of range [%g, %g]", opt->name, v, opt->min,
                   opt->max);
  return SR_OK;
}

/* Row i of all tables together, in table order: fills *opt and *base and
 * returns true, or false past the last row. */
static bool row_at(const sr_opts_t *opts, size_t i, const sr_opt_t **opt,
                   size_t *base) {
  for (size_t t = 0; t < opts->n_tables; t++) {
    const sr_opt_table_t *table = &opts->tables[t];
    if (i < table->n_rows) {
      *opt = &table->rows[i];
      *base = table->base;
      return true;
    }
    i -= table->n_rows;
  }
  return false;
}

const sr_opt_t *sr_opts_find(const sr_opts_t *opts, const char *name,
                             size_t *base) {
  const sr_opt_t *opt;
  size_t at;
  for (size_t i = 0; row_at(opts, i, &opt, &at); i++) {
    if (!strcmp(opt->name, name)) {
      if (base)
        *base = at;
      return opt;
    }
  }
  return NULL;
}

/* Whether opt's field size is the one its type stores. */
static bool size_fits_type(const sr_opt_t *opt) {
  switch (opt->type) {
  case SR_OPT_U32:
  case SR_OPT_ENUM: return opt->size == sizeof(uint32_t);
  case SR_OPT_U64:
  case SR_OPT_I64: return opt->size == sizeof(uint64_t);
  case SR_OPT_F32: return opt->size == sizeof(float);
  case SR_OPT_F64: return opt->size == sizeof(double);
  default: return opt->size > 0;
  }
}

void sr_opts_defaults(const sr_opts_t *opts, void *obj) {
  const sr_opt_t *opt;
  size_t base;
  for (size_t i = 0; row_at(opts, i, &opt, &base); i++) {
    if (!size_fits_type(opt) ||
        sr_opt_set(opt, (char *)obj + base, opt->def, NULL, 0) != SR_OK)
      abort();
  }
}

sr_err_t sr_opts_check(const sr_opts_t *opts, const void *obj, char *errstr,
                       size_t errlen) {
  const sr_opt_t *opt;
  size_t base;
  for (size_t i = 0; row_at(opts, i, &opt, &base); i++) {
    sr_err_t err = sr_opt_check(opt, (const char *)obj + base, errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return SR_OK;
}

/* Edits between a and b: insertions, deletions, substitutions and swaps
 * of two neighbours ("coutn"), each edit of a byte at most once. More than
 * any name here needs for a string of 64 bytes or more. */
static size_t edits(const char *a, const char *b) {
  enum { MAX = 64 };
  size_t la = strlen(a), lb = strlen(b);
  uint8_t d[MAX][MAX];
  if (la >= MAX || lb >= MAX)
    return SIZE_MAX;
  for (size_t i = 0; i <= la; i++)
    d[i][0] = (uint8_t)i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = (uint8_t)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      unsigned best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      best = d[i - 1][j] + 1u < best ? d[i - 1][j] + 1u : best;
      best = d[i][j - 1] + 1u < best ? d[i][j - 1] + 1u : best;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1u < best)
        best = d[i - 2][j - 2] + 1u;
      d[i][j] = (uint8_t)best;
    }
  return d[la][lb];
}

const char *sr_opts_suggest(const sr_opts_t *opts, const char *key) {
  const sr_opt_t *opt, *best = NULL;
  size_t at, klen = strlen(key), most = klen / 4 ? klen / 4 : 1,
             fewest = most + 1;
  for (size_t i = 0; row_at(opts, i, &opt, &at); i++) {
    size_t nlen = strlen(opt->name), d = edits(key, opt->name);
    /* The key without its table's prefix ("dims" for "model.dims"). */
    if (nlen > klen && opt->name[nlen - klen - 1] == '.' &&
        !strcmp(opt->name + nlen - klen, key))
      d = 0;
    if (d < fewest) {
      fewest = d;
      best = opt;
    }
  }
  return best ? best->name : NULL;
}

sr_err_t sr_opts_set(const sr_opts_t *opts, void *obj, const char *key,
                     const char *value, char *errstr, size_t errlen) {
  size_t base;
  const sr_opt_t *opt = sr_opts_find(opts, key, &base);
  if (opt)
    return sr_opt_set(opt, (char *)obj + base, value, errstr, errlen);
  if (opts->other) {
    sr_err_t err = opts->other(obj, key, value, errstr, errlen);
    if (err != SR_ERR_NOT_FOUND)
      return err;
  }
  const char *near = sr_opts_suggest(opts, key);
  if (near)
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "unknown option '%s' (did you mean '%s'?)", key, near);
  return sr_errf(errstr, errlen, SR_ERR_INVALID, "unknown option '%s'", key);
}

sr_err_t sr_opts_set_kv(const sr_opts_t *opts, void *obj, const char *kv,
                        char *errstr, size_t errlen) {
  const char *eq = strchr(kv, '=');
  char key[256];
  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "--set expects key=value, got '%s'", kv);
  snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
  return sr_opts_set(opts, obj, key, eq + 1, errstr, errlen);
}

/* One document being applied: seen holds every key it has set so far, so
 * that a key given both nested and dotted ({"model":{"dims":8},
 * "model.dims":9}) is refused rather than the last winning silently
 * (jansson itself refuses a key repeated within one object). */
typedef struct load {
  const sr_opts_t *opts;
  void *obj;
  const char *name;
  json_t *seen;
} load_t;

static sr_err_t apply_json(load_t *ld, const char *key, json_t *val,
                           char *errstr, size_t errlen);

static sr_err_t apply_object(load_t *ld, const char *prefix, json_t *jobj,
                             char *errstr, size_t errlen) {
  const char *name;
  json_t *val;
  json_object_foreach(jobj, name, val) {
    char key[512];
    snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." : "", name);
    sr_err_t err = apply_json(ld, key, val, errstr, errlen);
    if (err != SR_OK)
      return err;
  }
  return SR_OK;
}

/* A number or boolean as the text sr_opts_set takes; false for arrays and
 * null. Strings are taken as they are, never cut to a buffer. */
static bool scalar_text(json_t *val, char *text, size_t len) {
  if (json_is_integer(val))
    snprintf(text, len, "%" JSON_INTEGER_FORMAT, json_integer_value(val));
  else if (json_is_real(val))
    snprintf(text, len, "%.17g", json_real_value(val));
  else if (json_is_boolean(val))
    snprintf(text, len, "%s", json_is_true(val) ? "true" : "false");
  else
    return false;
  return true;
}

static sr_err_t apply_json(load_t *ld, const char *key, json_t *val,
                           char *errstr, size_t errlen) {
  char number[64];
  const char *text = number;
  if (json_is_object(val))
    return apply_object(ld, key, val, errstr, errlen);
  if (json_object_get(ld->seen, key))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s: given more than once (nested and dotted)", ld->name,
                   key);
  json_object_set_new(ld->seen, key, json_true());
  if (json_is_string(val))
    text = json_string_value(val);
  else if (!scalar_text(val, number, sizeof(number)))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: %s: arrays and null are not accepted", ld->name, key);
  char msg[512];
  sr_err_t err = sr_opts_set(ld->opts, ld->obj, key, text, msg, sizeof(msg));
  if (err != SR_OK)
    return sr_errf(errstr, errlen, err, "%s: %s", ld->name, msg);
  return SR_OK;
}

/* Applies a parsed document; name labels errors. Takes root's reference. */
static sr_err_t apply_root(const sr_opts_t *opts, void *obj, json_t *root,
                           const char *name, char *errstr, size_t errlen) {
  load_t ld = {opts, obj, name, json_object()};
  sr_err_t err = json_is_object(root)
                     ? apply_object(&ld, "", root, errstr, errlen)
                     : sr_errf(errstr, errlen, SR_ERR_INVALID,
                               "%s: top level must be a JSON object", name);
  json_decref(ld.seen);
  json_decref(root);
  return err;
}

sr_err_t sr_opts_load_json(const sr_opts_t *opts, void *obj, const char *text,
                           size_t len, const char *name, char *errstr,
                           size_t errlen) {
  json_error_t jerr;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s:%d: %s", name, jerr.line,
                   jerr.text);
  return apply_root(opts, obj, root, name, errstr, errlen);
}

sr_err_t sr_opts_load_file(const sr_opts_t *opts, void *obj, const char *path,
                           char *errstr, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s:%d: %s", path, jerr.line,
                   jerr.text);
  return apply_root(opts, obj, root, path, errstr, errlen);
}

static const char *type_name(const sr_opt_t *opt) {
  /* A uint64 (model.seed) has always been listed as an int. */
  static const char *const names[] = {"uint",  "int",    "int", "float",
                                      "float", "string", "enum"};
  return opt->choices ? opt->choices : names[opt->type];
}

void sr_opts_print_help(const sr_opts_t *opts, FILE *out, const char *prefix) {
  const sr_opt_t *opt;
  size_t base;
  for (size_t i = 0; row_at(opts, i, &opt, &base); i++) {
    if (prefix && strncmp(opt->name, prefix, strlen(prefix)))
      continue;
    fprintf(out, "  %-26s %s (%s, default '%s')\n", opt->name, opt->help,
            type_name(opt), opt->def);
  }
}

/* Writes text for a Markdown table cell: '|' escaped so a choice list
 * ("a|b") stays in one cell. */
static void md_cell(FILE *out, const char *text) {
  for (; *text; text++) {
    if (*text == '|')
      fputc('\\', out);
    fputc(*text, out);
  }
}

void sr_opts_print_markdown(const sr_opts_t *opts, FILE *out) {
  fprintf(out, "| option | type | default | meaning |\n|---|---|---|---|\n");
  const sr_opt_t *opt;
  size_t base;
  for (size_t i = 0; row_at(opts, i, &opt, &base); i++) {
    fprintf(out, "| `%s` | ", opt->name);
    md_cell(out, type_name(opt));
    if (*opt->def)
      fprintf(out, " | `%s` | ", opt->def);
    else
      fprintf(out, " | (empty) | ");
    md_cell(out, opt->help);
    fprintf(out, " |\n");
  }
}
