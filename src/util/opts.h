/* Option tables in the style of fluent-bit's config_map: a table of rows
 * (name, type, field offset and size, default, range, choices, help)
 * declares the settings of a struct, and this engine sets fields from text
 * with the range and choice checks, applies the defaults, checks a filled
 * struct, loads JSON documents and "key=value" overrides, and prints the
 * option reference. Several tables can load one struct, each at the offset
 * of its own sub-struct (the model's table at &cfg->model). No shared
 * state: any thread, one struct per caller. */
#ifndef SR_UTIL_OPTS_H
#define SR_UTIL_OPTS_H

#include "streamrec/common.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* How a field is stored. */
typedef enum sr_opt_type {
  SR_OPT_U32,  /* uint32_t */
  SR_OPT_U64,  /* uint64_t */
  SR_OPT_I64,  /* int64_t */
  SR_OPT_F32,  /* float */
  SR_OPT_F64,  /* double */
  SR_OPT_STR,  /* char[size], NUL-terminated */
  SR_OPT_ENUM, /* a uint32_t-sized enum: the index of its name in choices */
} sr_opt_type_t;

/* One option: the only place its default and range are written. */
typedef struct sr_opt {
  const char *name; /* "model.dims" */
  sr_opt_type_t type;
  size_t offset;       /* of the field in its table's struct */
  size_t size;         /* of the field; a string's buffer size */
  const char *def;     /* the default as text, as the reference prints it */
  double min, max;     /* inclusive range of a number */
  const char *choices; /* SR_OPT_ENUM: the names, "a|b", in enum order */
  const char *help;
} sr_opt_t;

/* Rows of a table for struct T, field f: `SR_OPT_ROW_U32(sr_model_conf_t,
 * "model.dims", dims, "32", 1, 1024, "latent factors")`. */
#define SR_OPT_ROW(T, type, n, f, d, lo, hi, c, h)                             \
  { n, type, offsetof(T, f), sizeof(((T *)0)->f), d, lo, hi, c, h }
#define SR_OPT_ROW_U32(T, n, f, d, lo, hi, h)                                  \
  SR_OPT_ROW(T, SR_OPT_U32, n, f, d, lo, hi, NULL, h)
#define SR_OPT_ROW_U64(T, n, f, d, lo, hi, h)                                  \
  SR_OPT_ROW(T, SR_OPT_U64, n, f, d, lo, hi, NULL, h)
#define SR_OPT_ROW_I64(T, n, f, d, lo, hi, h)                                  \
  SR_OPT_ROW(T, SR_OPT_I64, n, f, d, lo, hi, NULL, h)
#define SR_OPT_ROW_F32(T, n, f, d, lo, hi, h)                                  \
  SR_OPT_ROW(T, SR_OPT_F32, n, f, d, lo, hi, NULL, h)
#define SR_OPT_ROW_F64(T, n, f, d, lo, hi, h)                                  \
  SR_OPT_ROW(T, SR_OPT_F64, n, f, d, lo, hi, NULL, h)
#define SR_OPT_ROW_STR(T, n, f, d, h)                                          \
  SR_OPT_ROW(T, SR_OPT_STR, n, f, d, 0, 0, NULL, h)
#define SR_OPT_ROW_ENUM(T, n, f, d, c, h)                                      \
  SR_OPT_ROW(T, SR_OPT_ENUM, n, f, d, 0, 0, c, h)

/* A table and where its struct lies in the struct being loaded. */
typedef struct sr_opt_table {
  const sr_opt_t *rows;
  size_t n_rows;
  size_t base; /* offset of the table's struct; 0 for the struct itself */
} sr_opt_table_t;

/* Sets a key no table holds (kafka.properties.NAME): SR_OK or an error
 * naming the key, or SR_ERR_NOT_FOUND when it does not take the key. */
typedef sr_err_t (*sr_opts_other_fn)(void *obj, const char *key,
                                     const char *value, char *errstr,
                                     size_t errlen);

/* The options of one struct: its tables, in the order the reference lists
 * them, and the setter of keys outside them (may be NULL). */
typedef struct sr_opts {
  const sr_opt_table_t *tables;
  size_t n_tables;
  sr_opts_other_fn other;
} sr_opts_t;

/* Sets opt's field in base (its table's struct) from text. A number must
 * parse whole, be an integer for the integer types, and lie in [min, max];
 * a choice must be one of choices; a string must fit. Returns SR_OK or
 * SR_ERR_INVALID with errstr naming the key ("model.dims: 0 is out of
 * range [1, 1024]"); the field is unchanged on error. */
sr_err_t sr_opt_set(const sr_opt_t *opt, void *base, const char *value,
                    char *errstr, size_t errlen);

/* Checks opt's field in base as a caller may have filled it: a number in
 * range (NaN is not), an enum the index of a choice, a string terminated
 * within its buffer. Returns SR_OK or SR_ERR_INVALID with errstr naming the
 * key ("model.dims: 0 is out of range [1, 1024]"). */
sr_err_t sr_opt_check(const sr_opt_t *opt, const void *base, char *errstr,
                      size_t errlen);

/* The row named name, or NULL; *base (may be NULL) receives its table's
 * offset in the loaded struct. */
const sr_opt_t *sr_opts_find(const sr_opts_t *opts, const char *name,
                             size_t *base);

/* The option a mistyped key most likely meant: the one a quarter of the
 * key's length in edits or fewer away (one edit for a short key), or whose
 * name is the key after its table's prefix ("dims": "model.dims"); NULL
 * when none is. sr_opts_set names it in its "unknown option" error. */
const char *sr_opts_suggest(const sr_opts_t *opts, const char *key);

/* Sets every field of every table to its default; other fields are left
 * as they are. A default that does not parse, or a field whose size does
 * not match its type, is a bug in the table: it aborts. */
void sr_opts_defaults(const sr_opts_t *opts, void *obj);

/* sr_opt_check on every row, in table order; the first failure returns. */
sr_err_t sr_opts_check(const sr_opts_t *opts, const void *obj, char *errstr,
                       size_t errlen);

/* Sets the option key from text: a row of a table, else opts->other's.
 * Unknown keys fail with SR_ERR_INVALID, "unknown option 'KEY'", followed
 * by " (did you mean 'NAME'?)" when sr_opts_suggest finds one. */
sr_err_t sr_opts_set(const sr_opts_t *opts, void *obj, const char *key,
                     const char *value, char *errstr, size_t errlen);

/* Applies "key=value" (the --set form). */
sr_err_t sr_opts_set_kv(const sr_opts_t *opts, void *obj, const char *kv,
                        char *errstr, size_t errlen);

/* Applies a JSON document held in memory: nested objects
 * ({"model":{"dims":64}}) and dotted keys ({"model.dims":64}) both work;
 * numbers, strings and booleans are set as their text. A key given twice,
 * in one object or both nested and dotted, is an error, as are arrays and
 * null. Errors start with name, then the key. Keys before a failing one
 * stay set. */
sr_err_t sr_opts_load_json(const sr_opts_t *opts, void *obj, const char *text,
                           size_t len, const char *name, char *errstr,
                           size_t errlen);

/* sr_opts_load_json for the file at path, which labels the errors. */
sr_err_t sr_opts_load_file(const sr_opts_t *opts, void *obj, const char *path,
                           char *errstr, size_t errlen);

/* Prints "  NAME HELP (TYPE, default 'DEF')" per row whose name starts
 * with prefix (NULL: every row). TYPE is uint, int, float, string or the
 * choices. */
void sr_opts_print_help(const sr_opts_t *opts, FILE *out, const char *prefix);

/* Prints the rows as a Markdown table with its header, one row per line;
 * '|' in a cell is escaped. A caller may append rows of its own. */
void sr_opts_print_markdown(const sr_opts_t *opts, FILE *out);

#endif
