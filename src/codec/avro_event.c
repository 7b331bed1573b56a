/* Avro events over Apache Avro's C library; see avro_event.h. */
#include "codec/avro_event.h"

#include "util/err.h"

#include "codec/reason.h"

#include <avro.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Schemas nesting deeper (recursive ones included) are read this far. */
#define DEPTH_MAX 64
/* Elements of arrays and maps of empty items (null, empty records) one
 * message may hold: their count is not bounded by the bytes. */
#define EMPTY_ITEMS_MAX 65536

const char sr_avro_default_schema[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec.v1\","
    "\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"type\",\"type\":\"string\"},"
    "{\"name\":\"value\",\"type\":\"float\"},"
    "{\"name\":\"timestamp_ms\",\"type\":{\"type\":\"long\","
    "\"logicalType\":\"timestamp-millis\"}}]}";

static const char *const field_names[SR_MAP__COUNT] = {
    "user_id", "item_id", "type", "value", "timestamp"};

/* The schema and mapping a reader and a writer share. */
typedef struct shape {
  avro_schema_t schema;
  avro_value_iface_t *iface;
  avro_value_t value; /* the record reused for every message */
  bool has_value;
  sr_mapping_t *map;
  /* Units of the timestamp's long per millisecond from its logicalType:
   * 1 (millis), 1000 (micros), or 0 (none: by input.timestamp_format). */
  int64_t ts_per_ms;
} shape_t;

typedef struct plan plan_t;

struct sr_avro_reader {
  shape_t sh;
  plan_t *plan; /* the schema compiled for reading */
};

static plan_t *plan_new(avro_schema_t schema, const sr_mapping_t *map);
static void plan_free(plan_t *pl);

struct sr_avro_writer {
  shape_t sh;
  const char *type_names[SR_EV__COUNT]; /* the platform's, or NULL */
  char *names_storage[SR_EV__COUNT];
  sr_ts_fmt_t ts_fmt;
};

/* What a mapped field's value may be in the schema. */
static bool type_fits(sr_map_field_t f, avro_type_t t) {
  switch (t) {
  case AVRO_STRING:
  case AVRO_INT32:
  case AVRO_INT64: return true;
  case AVRO_BYTES:
  case AVRO_FIXED: return f == SR_MAP_USER_ID || f == SR_MAP_ITEM_ID;
  case AVRO_ENUM: return f != SR_MAP_VALUE && f != SR_MAP_TIMESTAMP;
  case AVRO_FLOAT:
  case AVRO_DOUBLE: return f == SR_MAP_VALUE || f == SR_MAP_TIMESTAMP;
  default: return false;
  }
}

/* The field name of record s, or NULL. (The library's
 * avro_schema_record_field_get reads past a failed lookup.) */
static avro_schema_t record_field(avro_schema_t s, const char *name) {
  int i = avro_schema_record_field_get_index(s, name);
  return i < 0 ? NULL : avro_schema_record_field_get_by_index(s, i);
}

static avro_schema_t resolve(avro_schema_t s) {
  for (int i = 0; i < DEPTH_MAX && s && is_avro_link(s); i++)
    s = avro_schema_link_target(s);
  return s;
}

/* Whether the path segs[0..n) leads through s to a value field f can be
 * read from; unions may lead through any branch. */
static bool path_fits(avro_schema_t s, const sr_map_seg_t *segs, size_t n,
                      sr_map_field_t f, int depth) {
  s = resolve(s);
  if (!s || depth > DEPTH_MAX)
    return false;
  if (is_avro_union(s)) {
    for (size_t b = 0; b < avro_schema_union_size(s); b++)
      if (path_fits(avro_schema_union_branch(s, (int)b), segs, n, f, depth + 1))
        return true;
    return false;
  }
  if (n == 0)
    return type_fits(f, avro_typeof(s));
  if (segs->name && is_avro_record(s)) {
    avro_schema_t field = record_field(s, segs->name);
    return field && path_fits(field, segs + 1, n - 1, f, depth + 1);
  }
  if (segs->name && is_avro_map(s))
    return path_fits(avro_schema_map_values(s), segs + 1, n - 1, f, depth + 1);
  if (!segs->name && is_avro_array(s))
    return path_fits(avro_schema_array_items(s), segs + 1, n - 1, f, depth + 1);
  return false;
}

/* Paths that cannot work stop the start: a mapped one not in the schema,
 * an unmapped id the record does not have. */
static sr_err_t check_paths(shape_t *sh, const sr_mapping_spec_t *spec,
                            const char *schema_key, char *errstr,
                            size_t errlen) {
  const char *pre = spec->prefix ? spec->prefix : "input.";
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    const sr_map_seg_t *segs;
    size_t n = sr_mapping_path(sh->map, (sr_map_field_t)f, &segs);
    const char *src = sr_mapping_source(sh->map, (sr_map_field_t)f);
    bool required = src || f == SR_MAP_USER_ID || f == SR_MAP_ITEM_ID;
    if (n == 0)
      continue;
    if (path_fits(sh->schema, segs, n, (sr_map_field_t)f, 0))
      continue;
    if (!src && !required && !record_field(sh->schema, segs[0].name))
      continue;
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%sfields.%s: '%s' is not a field of the schema of %s that "
                   "a %s can be read from (a string, number%s, through "
                   "records, maps, arrays and unions)",
                   pre, field_names[f], src ? src : segs[0].name, schema_key,
                   field_names[f],
                   f <= SR_MAP_ITEM_ID ? ", bytes, fixed or enum"
                   : f == SR_MAP_TYPE  ? " or enum"
                                       : "");
  }
  return SR_OK;
}

/* The JSON of a schema type: an object with a logicalType, a union's
 * branches, a record's field; for the timestamp's logical type, which the
 * C library does not keep. */
static json_t *json_field(json_t *type, const char *name, int depth);

static json_t *json_branch_with(json_t *type, const char *name, int depth) {
  size_t i;
  json_t *b;
  json_array_foreach(type, i, b) {
    json_t *got = json_field(b, name, depth + 1);
    if (got)
      return got;
  }
  return NULL;
}

static json_t *json_field(json_t *type, const char *name, int depth) {
  if (depth > DEPTH_MAX)
    return NULL;
  if (json_is_array(type))
    return json_branch_with(type, name, depth);
  json_t *fields = json_object_get(type, "fields");
  size_t i;
  json_t *fld;
  json_array_foreach(fields, i, fld) {
    const char *fname = json_string_value(json_object_get(fld, "name"));
    if (fname && !strcmp(fname, name))
      return json_object_get(fld, "type");
  }
  json_t *inner = json_object_get(type, "type");
  if (json_is_object(inner) || json_is_array(inner))
    return json_field(inner, name, depth + 1);
  return NULL;
}

static int64_t logical_units(json_t *type, int depth) {
  if (!type || depth > DEPTH_MAX)
    return 0;
  if (json_is_array(type)) {
    size_t i;
    json_t *b;
    json_array_foreach(type, i, b) {
      int64_t u = logical_units(b, depth + 1);
      if (u)
        return u;
    }
    return 0;
  }
  const char *lt = json_string_value(json_object_get(type, "logicalType"));
  if (lt && !strcmp(lt, "timestamp-millis"))
    return 1;
  if (lt && !strcmp(lt, "timestamp-micros"))
    return 1000;
  return 0;
}

/* The logical type of the timestamp's path (names only: an index or a map
 * along it leaves the number to input.timestamp_format). */
static void find_logical_type(shape_t *sh, const char *json, size_t len) {
  const sr_map_seg_t *segs;
  size_t n = sr_mapping_path(sh->map, SR_MAP_TIMESTAMP, &segs);
  json_t *root = json_loadb(json, len, 0, NULL);
  json_t *type = root;
  for (size_t s = 0; s < n && type; s++)
    type = segs[s].name ? json_field(type, segs[s].name, 0) : NULL;
  sh->ts_per_ms = n ? logical_units(type, 0) : 0;
  json_decref(root);
}

/* An empty record to read or write the next message into. A fresh one:
 * the library's generic values leak what a reset value held once the next
 * message fills it again (strings, the items of arrays and maps). */
static int next_value(shape_t *sh) {
  avro_value_decref(&sh->value);
  sh->has_value = avro_generic_value_new(sh->iface, &sh->value) == 0;
  return sh->has_value ? 0 : -1;
}

static void shape_free(shape_t *sh) {
  if (sh->has_value)
    avro_value_decref(&sh->value);
  if (sh->iface)
    avro_value_iface_decref(sh->iface);
  if (sh->schema)
    avro_schema_decref(sh->schema);
  sr_mapping_free(sh->map);
}

static sr_err_t shape_init(shape_t *sh, const char *json, size_t len,
                           const char *prefix, const sr_mapping_spec_t *spec,
                           char *errstr, size_t errlen) {
  char key[300];
  snprintf(key, sizeof(key), "%savro.schema_file", prefix ? prefix : "input.");
  if (avro_schema_from_json_length(json, len, &sh->schema) != 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: not an Avro schema: %s",
                   key, avro_strerror());
  if (!is_avro_record(sh->schema))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s: the schema is of a %s, not a record", key,
                   avro_schema_type_name(sh->schema));
  sh->map = sr_mapping_new(spec, errstr, errlen);
  if (!sh->map)
    return SR_ERR_INVALID;
  if (check_paths(sh, spec, key, errstr, errlen) != SR_OK)
    return SR_ERR_INVALID;
  find_logical_type(sh, json, len);
  sh->iface = avro_generic_class_from_schema(sh->schema);
  if (!sh->iface || avro_generic_value_new(sh->iface, &sh->value) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "%s: %s", key,
                   avro_strerror());
  sh->has_value = true;
  return SR_OK;
}

sr_avro_reader_t *sr_avro_reader_new_json(const char *json, size_t len,
                                          const char *prefix,
                                          const sr_mapping_spec_t *spec,
                                          char *errstr, size_t errlen) {
  sr_avro_reader_t *rd = calloc(1, sizeof(*rd));
  if (!rd) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (shape_init(&rd->sh, json, len, prefix, spec, errstr, errlen) != SR_OK)
    goto fail;
  if (!(rd->plan = plan_new(rd->sh.schema, rd->sh.map))) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    goto fail;
  }
  return rd;
fail:
  sr_avro_reader_free(rd);
  return NULL;
}

/* The whole file, NUL-terminated, in *text. */
static sr_err_t read_file(const char *path, const char *key, char **text,
                          size_t *len, char *errstr, size_t errlen) {
  FILE *fp = path && *path ? fopen(path, "rb") : NULL;
  if (!fp)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: cannot read '%s': %s",
                   key, path ? path : "",
                   path && *path ? strerror(errno) : "no schema file given");
  sr_buf_t buf = {0};
  char chunk[4096];
  size_t n;
  int rc = 0;
  while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
    rc = sr_buf_append(&buf, chunk, n);
  bool bad = ferror(fp) || rc != 0 || sr_buf_append(&buf, "", 1) != 0;
  fclose(fp);
  if (bad) {
    sr_buf_free(&buf);
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: cannot read '%s'", key,
                   path);
  }
  *text = (char *)buf.data;
  *len = buf.len - 1;
  return SR_OK;
}

sr_avro_reader_t *sr_avro_reader_new(const char *path, const char *prefix,
                                     const sr_mapping_spec_t *spec,
                                     char *errstr, size_t errlen) {
  char key[300], *text;
  size_t len;
  snprintf(key, sizeof(key), "%savro.schema_file", prefix ? prefix : "input.");
  if (read_file(path, key, &text, &len, errstr, errlen) != SR_OK)
    return NULL;
  sr_avro_reader_t *rd =
      sr_avro_reader_new_json(text, len, prefix, spec, errstr, errlen);
  free(text);
  return rd;
}

void sr_avro_reader_free(sr_avro_reader_t *rd) {
  if (!rd)
    return;
  shape_free(&rd->sh);
  plan_free(rd->plan);
  free(rd);
}

/* The reader. The bytes are read against the library's parsed schema by
 * one walk that checks every length, count and branch against the bytes
 * that remain and picks up the values at the mapped paths as it passes
 * them, pointing into the message. (The library's own generic reader
 * allocates a string's or an array's length as the message states it
 * before reading it, and leaks what a reused value held: neither may
 * meet a hostile topic.) */
typedef struct scan {
  const uint8_t *p, *end;
  size_t empty_items;
  int64_t ts_per_ms;
  sr_map_val_t vals[SR_MAP__COUNT];
  sr_map_val_t discard; /* what no path ends at */
  const plan_t *plan;
} scan_t;

static inline int read_long(scan_t *sc, int64_t *out) {
  /* Most longs (lengths, branches, counts, symbols) take one byte. */
  if (sc->p < sc->end && !(*sc->p & 0x80)) {
    uint8_t c = *sc->p++;
    *out = (int64_t)(c >> 1) ^ -(int64_t)(c & 1);
    return 0;
  }
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (sc->p >= sc->end)
      return -1;
    uint8_t c = *sc->p++;
    v |= (uint64_t)(c & 0x7F) << shift;
    if (!(c & 0x80)) {
      *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
      return 0;
    }
  }
  return -1;
}

/* n bytes at *at. */
static int take(scan_t *sc, int64_t n, const uint8_t **at) {
  if (n < 0 || n > sc->end - sc->p)
    return -1;
  *at = sc->p;
  sc->p += n;
  return 0;
}

/* The schema compiled for the reader: the library's accessors look a
 * record's fields up in hash tables, so each type is copied once into
 * these arrays, which the reader walks. */
typedef struct node {
  avro_type_t type;
  bool empty;    /* takes no bytes: null, or a record of such */
  uint32_t n;    /* fields, branches, symbols; a fixed's size */
  uint32_t kids; /* the first of n kids; an array's or map's items; the
                    first of an enum's n symbols */
} node_t;

/* Levels of a mapped path: mapping paths have at most 16 steps. */
#define PATH_LEVELS 17

struct plan {
  node_t *nodes;
  avro_schema_t *of; /* the schema of each node, to reuse a named type */
  size_t n_nodes, cap_nodes;
  uint32_t *kids;     /* node indices */
  const char **names; /* a record field's name, by kid */
  size_t *name_lens;
  size_t n_kids, cap_kids;
  /* By kid of a record, by level: the fields whose path takes the kid's
   * name as its step at that level, matched once here rather than by
   * name for every message. */
  unsigned (*hits)[PATH_LEVELS];
  const char **syms; /* enum symbols (borrowed from the schema) */
  size_t *sym_lens;
  size_t n_syms, cap_syms;
  /* The mapped paths, and by level the fields whose path ends there. */
  const sr_map_seg_t *segs[SR_MAP__COUNT];
  size_t n_segs[SR_MAP__COUNT];
  unsigned live;
  unsigned ends_at[PATH_LEVELS];
};

static void plan_free(plan_t *pl) {
  if (!pl)
    return;
  free(pl->nodes);
  free(pl->of);
  free(pl->kids);
  free(pl->names);
  free(pl->name_lens);
  free(pl->hits);
  free(pl->syms);
  free(pl->sym_lens);
  free(pl);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap)
    return 0;
  size_t cap2 = *cap ? *cap * 2 : 16;
  while (cap2 < need)
    cap2 *= 2;
  void *q = realloc(*p, cap2 * size);
  if (!q)
    return -1;
  *p = q;
  *cap = cap2;
  return 0;
}

/* n kid slots; their index in *at. */
static int add_kids(plan_t *pl, size_t n, uint32_t *at) {
  size_t need = pl->n_kids + n, cap = pl->cap_kids;
  if (grow((void **)&pl->kids, &cap, need, sizeof(*pl->kids)))
    return -1;
  cap = pl->cap_kids;
  if (grow((void **)&pl->names, &cap, need, sizeof(*pl->names)))
    return -1;
  cap = pl->cap_kids;
  if (grow((void **)&pl->name_lens, &cap, need, sizeof(*pl->name_lens)))
    return -1;
  pl->cap_kids = cap;
  *at = (uint32_t)pl->n_kids;
  memset(pl->names + pl->n_kids, 0, n * sizeof(*pl->names));
  pl->n_kids = need;
  return 0;
}

static int64_t compile_node(plan_t *pl, avro_schema_t s, int depth);

/* An enum's symbols and their lengths, for the reader to point at. */
static int add_syms(plan_t *pl, avro_schema_t s, node_t *nd) {
  size_t need = pl->n_syms + nd->n, cap = pl->cap_syms;
  if (grow((void **)&pl->syms, &cap, need, sizeof(*pl->syms)))
    return -1;
  cap = pl->cap_syms;
  if (grow((void **)&pl->sym_lens, &cap, need, sizeof(*pl->sym_lens)))
    return -1;
  pl->cap_syms = cap;
  nd->kids = (uint32_t)pl->n_syms;
  for (uint32_t i = 0; i < nd->n; i++) {
    pl->syms[pl->n_syms] = avro_schema_enum_get(s, (int)i);
    pl->sym_lens[pl->n_syms] = strlen(pl->syms[pl->n_syms]);
    pl->n_syms++;
  }
  return 0;
}

static int compile_kids(plan_t *pl, node_t nd, avro_schema_t s, int64_t at,
                        int depth) {
  uint32_t first;
  bool record = is_avro_record(s), container = !record && !is_avro_union(s);
  size_t n = container ? 1 : nd.n;
  if (add_kids(pl, n, &first) != 0)
    return -1;
  pl->nodes[at].kids = first;
  bool empty = record;
  for (size_t i = 0; i < n; i++) {
    avro_schema_t kid = record
                            ? avro_schema_record_field_get_by_index(s, (int)i)
                        : is_avro_union(s) ? avro_schema_union_branch(s, (int)i)
                        : is_avro_array(s) ? avro_schema_array_items(s)
                                           : avro_schema_map_values(s);
    int64_t k = compile_node(pl, kid, depth + 1);
    if (k < 0)
      return -1;
    pl->kids[first + i] = (uint32_t)k;
    if (record) {
      pl->names[first + i] = avro_schema_record_field_name(s, (int)i);
      pl->name_lens[first + i] = strlen(pl->names[first + i]);
      empty = empty && pl->nodes[k].empty;
    }
  }
  pl->nodes[at].empty = empty;
  return 0;
}

/* The node of s, compiled once per named type (so recursive types end).
 * Returns its index, or -1. */
static int64_t compile_node(plan_t *pl, avro_schema_t s, int depth) {
  s = resolve(s);
  if (!s || depth > DEPTH_MAX)
    return -1;
  for (size_t i = 0; i < pl->n_nodes; i++)
    if (pl->of[i] == s)
      return (int64_t)i;
  size_t cap = pl->cap_nodes;
  if (grow((void **)&pl->nodes, &cap, pl->n_nodes + 1, sizeof(*pl->nodes)))
    return -1;
  cap = pl->cap_nodes;
  if (grow((void **)&pl->of, &cap, pl->n_nodes + 1, sizeof(*pl->of)))
    return -1;
  pl->cap_nodes = cap;
  int64_t at = (int64_t)pl->n_nodes++;
  node_t nd = {.type = avro_typeof(s), .empty = is_avro_null(s)};
  if (is_avro_record(s))
    nd.n = (uint32_t)avro_schema_record_size(s);
  else if (is_avro_union(s))
    nd.n = (uint32_t)avro_schema_union_size(s);
  else if (is_avro_enum(s))
    nd.n = (uint32_t)avro_schema_enum_number_of_symbols(s);
  else if (is_avro_fixed(s))
    nd.n = (uint32_t)avro_schema_fixed_size(s);
  if (is_avro_enum(s) && add_syms(pl, s, &nd) != 0)
    return -1;
  pl->nodes[at] = nd;
  pl->of[at] = s;
  if (is_avro_record(s) || is_avro_union(s) || is_avro_array(s) ||
      is_avro_map(s))
    return compile_kids(pl, nd, s, at, depth) == 0 ? at : -1;
  return at;
}

/* The mapped paths of map, and the fields each record field's name
 * matches at each level. */
static int plan_paths(plan_t *pl, const sr_mapping_t *map) {
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    pl->n_segs[f] = sr_mapping_path(map, (sr_map_field_t)f, &pl->segs[f]);
    if (pl->n_segs[f] >= PATH_LEVELS)
      return -1;
    pl->live |= (pl->n_segs[f] > 0) << f;
    if (pl->n_segs[f])
      pl->ends_at[pl->n_segs[f]] |= 1u << f;
  }
  pl->hits = calloc(pl->n_kids ? pl->n_kids : 1, sizeof(*pl->hits));
  if (!pl->hits)
    return -1;
  for (size_t k = 0; k < pl->n_kids; k++)
    for (int f = 0; pl->names[k] && f < SR_MAP__COUNT; f++)
      for (size_t lv = 0; lv < pl->n_segs[f]; lv++) {
        const sr_map_seg_t *seg = &pl->segs[f][lv];
        if (seg->name && seg->index == pl->name_lens[k] &&
            !memcmp(seg->name, pl->names[k], seg->index))
          pl->hits[k][lv] |= 1u << f;
      }
  return 0;
}

static plan_t *plan_new(avro_schema_t schema, const sr_mapping_t *map) {
  plan_t *pl = calloc(1, sizeof(*pl));
  if (pl && (compile_node(pl, schema, 0) != 0 || plan_paths(pl, map) != 0)) {
    plan_free(pl);
    return NULL;
  }
  return pl;
}

/* The fields among live whose segment at level is the name key[0..len). */
static unsigned match_name(const scan_t *sc, unsigned live, size_t level,
                           const char *key, size_t len) {
  unsigned out = 0;
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    const sr_map_seg_t *seg = sc->plan->segs[f] + level;
    if ((live >> f & 1) && seg->name && seg->index == len &&
        !memcmp(seg->name, key, len))
      out |= 1u << f;
  }
  return out;
}

static unsigned match_index(const scan_t *sc, unsigned live, size_t level,
                            int64_t idx) {
  unsigned out = 0;
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    const sr_map_seg_t *seg = sc->plan->segs[f] + level;
    if ((live >> f & 1) && !seg->name && (int64_t)seg->index == idx)
      out |= 1u << f;
  }
  return out;
}

static int scan_value(scan_t *sc, uint32_t node, int depth, size_t level,
                      unsigned live);

/* The blocks of an array or a map: a count (negative: its byte size
 * follows), the items, until a count of 0. */
static int scan_blocks(scan_t *sc, uint32_t items, bool map, int depth,
                       size_t level, unsigned live) {
  bool empty = !map && sc->plan->nodes[items].empty;
  int64_t idx = 0;
  for (;;) {
    int64_t count, size;
    if (read_long(sc, &count) != 0)
      return -1;
    if (count == 0)
      return 0;
    if (count < 0 && (count == INT64_MIN || read_long(sc, &size) != 0))
      return -1;
    count = count < 0 ? -count : count;
    if (empty ? (sc->empty_items += (size_t)count) > EMPTY_ITEMS_MAX
              : count > sc->end - sc->p)
      return -1;
    for (int64_t i = 0; i < count; i++, idx++) {
      int64_t klen;
      const uint8_t *key;
      unsigned hit;
      if (map) {
        if (read_long(sc, &klen) != 0 || take(sc, klen, &key) != 0)
          return -1;
        hit = live
                  ? match_name(sc, live, level, (const char *)key, (size_t)klen)
                  : 0;
      } else {
        hit = live ? match_index(sc, live, level, idx) : 0;
      }
      if (scan_value(sc, items, depth + 1, level + 1, hit) != 0)
        return -1;
    }
  }
}

static int scan_record(scan_t *sc, const node_t *nd, int depth, size_t level,
                       unsigned live) {
  const plan_t *pl = sc->plan;
  for (uint32_t i = 0; i < nd->n; i++) {
    uint32_t k = nd->kids + i;
    /* A live path is deeper than level, so level is in the table. */
    unsigned hit = live ? live & pl->hits[k][level] : 0;
    if (scan_value(sc, pl->kids[k], depth + 1, level + 1, hit) != 0)
      return -1;
  }
  return 0;
}

static int read_float(scan_t *sc, int n, double *out) {
  const uint8_t *at;
  if (take(sc, n, &at) != 0)
    return -1;
  uint64_t bits = 0;
  for (int i = n - 1; i >= 0; i--)
    bits = bits << 8 | at[i];
  if (n == 4) {
    uint32_t b32 = (uint32_t)bits;
    float f;
    memcpy(&f, &b32, sizeof(f));
    *out = f;
  } else {
    memcpy(out, &bits, sizeof(*out));
  }
  return 0;
}

/* A value that is not a union; v receives it when some path ends here. */
static int scan_leaf(scan_t *sc, const node_t *nd, int depth, size_t level,
                     unsigned live, sr_map_val_t *v) {
  int64_t n;
  const uint8_t *at;
  switch (nd->type) {
  case AVRO_NULL: v->kind = SR_MAPV_NULL; return 0;
  case AVRO_BOOLEAN: v->kind = SR_MAPV_BOOL; return take(sc, 1, &at);
  case AVRO_FLOAT:
  case AVRO_DOUBLE:
    v->kind = SR_MAPV_REAL;
    return read_float(sc, nd->type == AVRO_FLOAT ? 4 : 8, &v->real);
  case AVRO_INT32:
  case AVRO_INT64: v->kind = SR_MAPV_INTEGER; return read_long(sc, &v->integer);
  case AVRO_STRING:
  case AVRO_BYTES:
    if (read_long(sc, &n) != 0 || take(sc, n, &at) != 0)
      return -1;
    *v = (sr_map_val_t){
        .kind = SR_MAPV_STRING, .str = (const char *)at, .len = (size_t)n};
    return 0;
  case AVRO_FIXED:
    if (take(sc, nd->n, &at) != 0)
      return -1;
    *v = (sr_map_val_t){
        .kind = SR_MAPV_STRING, .str = (const char *)at, .len = nd->n};
    return 0;
  case AVRO_ENUM:
    if (read_long(sc, &n) != 0 || n < 0 || n >= nd->n)
      return -1;
    *v = (sr_map_val_t){.kind = SR_MAPV_STRING,
                        .str = sc->plan->syms[nd->kids + n],
                        .len = sc->plan->sym_lens[nd->kids + n]};
    return 0;
  case AVRO_RECORD:
    v->kind = SR_MAPV_OBJECT;
    return scan_record(sc, nd, depth, level, live);
  case AVRO_ARRAY:
    v->kind = SR_MAPV_ARRAY;
    return scan_blocks(sc, sc->plan->kids[nd->kids], false, depth, level, live);
  case AVRO_MAP:
    v->kind = SR_MAPV_OBJECT;
    return scan_blocks(sc, sc->plan->kids[nd->kids], true, depth, level, live);
  default: return -1;
  }
}

/* One value of node; live holds the fields whose paths reach it, having
 * consumed level segments (a union's branch consumes none). */
static int scan_value(scan_t *sc, uint32_t node, int depth, size_t level,
                      unsigned live) {
  const node_t *nd = &sc->plan->nodes[node];
  if (depth > DEPTH_MAX)
    return -1;
  if (nd->type == AVRO_UNION) {
    int64_t b;
    if (read_long(sc, &b) != 0 || b < 0 || b >= nd->n)
      return -1;
    return scan_value(sc, sc->plan->kids[nd->kids + b], depth + 1, level, live);
  }
  unsigned ends = live ? live & sc->plan->ends_at[level] : 0;
  if (!ends)
    return scan_leaf(sc, nd, depth, level, live, &sc->discard);
  /* Read into the first field's slot rather than copied there; emptied
   * first, since a repeated map key fills it again. */
  sr_map_val_t *v = &sc->vals[__builtin_ctz(ends)];
  *v = (sr_map_val_t){0};
  if (scan_leaf(sc, nd, depth, level, live & ~ends, v))
    return -1;
  for (unsigned m = ends & (ends - 1); m; m &= m - 1)
    sc->vals[__builtin_ctz(m)] = *v;
  if ((ends >> SR_MAP_TIMESTAMP & 1) && v->kind == SR_MAPV_INTEGER &&
      sc->ts_per_ms) {
    sc->vals[SR_MAP_TIMESTAMP].integer /= sc->ts_per_ms;
    sc->vals[SR_MAP_TIMESTAMP].exact_ms = true;
  }
  return 0;
}

sr_reason_t sr_avro_decode(sr_avro_reader_t *rd, const void *p, size_t len,
                           const sr_msg_meta_t *meta,
                           const sr_event_limits_t *lim, sr_event_t *ev,
                           char *errstr, size_t errlen) {
  if (lim && lim->max_message_bytes && len > lim->max_message_bytes)
    return sr_reason_fail(SR_REASON_TOO_LARGE, errstr, errlen,
                          "message is %zu bytes, limit %zu", len,
                          lim->max_message_bytes);
  const uint8_t *bytes = p ? p : (const void *)"";
  scan_t sc;
  sc.p = bytes;
  sc.end = bytes + len;
  sc.empty_items = 0;
  sc.ts_per_ms = rd->sh.ts_per_ms;
  sc.plan = rd->plan;
  for (int f = 0; f < SR_MAP__COUNT; f++)
    sc.vals[f] = (sr_map_val_t){0};
  if (scan_value(&sc, 0, 0, 0, rd->plan->live) != 0)
    return sr_reason_fail(
        SR_REASON_DECODE, errstr, errlen,
        "avro: %zu bytes are not a record of the schema (truncated, "
        "or a length, count or branch out of range)",
        len);
  if (sc.p != sc.end)
    return sr_reason_fail(SR_REASON_DECODE, errstr, errlen,
                          "avro: %zu bytes after the record",
                          (size_t)(sc.end - sc.p));
  return sr_mapping_apply(rd->sh.map, sc.vals, meta, lim, ev, errstr, errlen);
}

/* The writer. A fresh record is filled with nulls, zeros and empty
 * values, then each mapped field is set at its path. */
static int fill_empty(avro_value_t *v, int depth) {
  avro_value_t child;
  size_t n = 0;
  if (depth > DEPTH_MAX)
    return -1;
  switch (avro_value_get_type(v)) {
  case AVRO_STRING: return avro_value_set_string(v, "");
  case AVRO_BYTES: return avro_value_set_bytes(v, "", 0);
  case AVRO_UNION: {
    avro_schema_t s = avro_value_get_schema(v);
    int branch = 0;
    for (size_t b = 0; b < avro_schema_union_size(s); b++)
      if (is_avro_null(resolve(avro_schema_union_branch(s, (int)b)))) {
        branch = (int)b;
        break;
      }
    return avro_value_set_branch(v, branch, &child) ||
           fill_empty(&child, depth + 1);
  }
  case AVRO_RECORD:
    avro_value_get_size(v, &n);
    for (size_t i = 0; i < n; i++)
      if (avro_value_get_by_index(v, i, &child, NULL) ||
          fill_empty(&child, depth + 1))
        return -1;
    return 0;
  default: return 0; /* numbers, enums, fixed: zero already; arrays empty */
  }
}

/* Sets a union to its first branch that is not null (one it was set to
 * already stays). */
static int enter_union(avro_value_t *v) {
  avro_value_t branch;
  avro_schema_t s = avro_value_get_schema(v);
  int disc;
  if (avro_value_get_discriminant(v, &disc) == 0 && disc >= 0 &&
      !is_avro_null(resolve(avro_schema_union_branch(s, disc)))) {
    if (avro_value_get_current_branch(v, &branch) != 0)
      return -1;
    *v = branch;
    return 0;
  }
  for (size_t b = 0; b < avro_schema_union_size(s); b++)
    if (!is_avro_null(resolve(avro_schema_union_branch(s, (int)b)))) {
      if (avro_value_set_branch(v, (int)b, &branch) != 0 ||
          fill_empty(&branch, 0) != 0)
        return -1;
      *v = branch;
      return 0;
    }
  return -1;
}

static int step_into(avro_value_t *v, const sr_map_seg_t *seg) {
  avro_value_t child;
  avro_type_t t = avro_value_get_type(v);
  int is_new;
  size_t size;
  if (seg->name && t == AVRO_RECORD) {
    if (avro_value_get_by_name(v, seg->name, &child, NULL) != 0)
      return -1;
    *v = child;
    return 0;
  }
  if (seg->name && t == AVRO_MAP) {
    if (avro_value_add(v, seg->name, &child, NULL, &is_new) ||
        (is_new && fill_empty(&child, 0)))
      return -1;
    *v = child;
    return 0;
  }
  if (seg->name || t != AVRO_ARRAY)
    return -1;
  while (avro_value_get_size(v, &size) == 0 && size <= seg->index)
    if (avro_value_append(v, &child, NULL) || fill_empty(&child, 0))
      return -1;
  if (avro_value_get_by_index(v, seg->index, &child, NULL) != 0)
    return -1;
  *v = child;
  return 0;
}

/* The field's leaf, created along its path. */
static int leaf_at(avro_value_t root, const sr_map_seg_t *segs, size_t n,
                   avro_value_t *out) {
  avro_value_t v = root;
  for (size_t s = 0; s < n; s++)
    if ((avro_value_get_type(&v) == AVRO_UNION && enter_union(&v) != 0) ||
        step_into(&v, &segs[s]) != 0)
      return -1;
  if (avro_value_get_type(&v) == AVRO_UNION && enter_union(&v) != 0)
    return -1;
  *out = v;
  return 0;
}

static int set_text(avro_value_t *v, const char *s, size_t len) {
  char *end;
  long long n;
  switch (avro_value_get_type(v)) {
  case AVRO_STRING: return avro_value_set_string_len(v, s, len + 1);
  case AVRO_BYTES: return avro_value_set_bytes(v, (void *)s, len);
  case AVRO_ENUM: {
    int sym = avro_schema_enum_get_by_name(avro_value_get_schema(v), s);
    return sym < 0 ? -1 : avro_value_set_enum(v, sym);
  }
  case AVRO_INT32:
  case AVRO_INT64:
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end == s || *end)
      return -1;
    return avro_value_get_type(v) == AVRO_INT64
               ? avro_value_set_long(v, n)
               : (n < INT32_MIN || n > INT32_MAX
                      ? -1
                      : avro_value_set_int(v, (int32_t)n));
  default: return -1;
  }
}

static int set_number(avro_value_t *v, double d) {
  switch (avro_value_get_type(v)) {
  case AVRO_INT32: return avro_value_set_int(v, (int32_t)d);
  case AVRO_INT64: return avro_value_set_long(v, (int64_t)d);
  case AVRO_FLOAT: return avro_value_set_float(v, (float)d);
  case AVRO_DOUBLE: return avro_value_set_double(v, d);
  default: return -1;
  }
}

static int set_time(const sr_avro_writer_t *wr, avro_value_t *v, int64_t ms) {
  if (avro_value_get_type(v) == AVRO_STRING) {
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    char text[48];
    gmtime_r(&secs, &tm);
    size_t n = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text + n, sizeof(text) - n, ".%03dZ", (int)(ms - secs * 1000));
    return avro_value_set_string(v, text);
  }
  int64_t units;
  if (wr->sh.ts_per_ms && avro_value_get_type(v) == AVRO_INT64)
    return __builtin_mul_overflow(ms, wr->sh.ts_per_ms, &units)
               ? -1
               : avro_value_set_long(v, units);
  bool secs = wr->ts_fmt == SR_TS_S || (avro_value_get_type(v) == AVRO_INT32 &&
                                        wr->ts_fmt == SR_TS_AUTO);
  if (avro_value_get_type(v) == AVRO_INT64 && !secs)
    return avro_value_set_long(v, ms);
  return set_number(v, secs ? (double)ms / 1000.0 : (double)ms);
}

static int set_field(sr_avro_writer_t *wr, sr_map_field_t f, avro_value_t *v,
                     const sr_event_t *ev) {
  char num[32];
  const char *name;
  switch (f) {
  case SR_MAP_USER_ID: return set_text(v, ev->user_id, ev->user_len);
  case SR_MAP_ITEM_ID: return set_text(v, ev->item_id, ev->item_len);
  case SR_MAP_TYPE:
    if (avro_value_get_type(v) == AVRO_INT32 ||
        avro_value_get_type(v) == AVRO_INT64) {
      snprintf(num, sizeof(num), "%d", (int)ev->type);
      return set_text(v, num, strlen(num));
    }
    name = wr->type_names[ev->type] ? wr->type_names[ev->type]
                                    : sr_event_type_name(ev->type);
    return set_text(v, name, strlen(name));
  case SR_MAP_VALUE: return set_number(v, ev->value);
  default: return set_time(wr, v, ev->timestamp_ms);
  }
}

sr_avro_writer_t *sr_avro_writer_new(const char *json, size_t len,
                                     const sr_mapping_spec_t *spec,
                                     char *errstr, size_t errlen) {
  sr_avro_writer_t *wr = calloc(1, sizeof(*wr));
  if (!wr) {
    sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  wr->ts_fmt = spec->timestamp_format;
  if (shape_init(&wr->sh, json, len, NULL, spec, errstr, errlen) != SR_OK)
    goto fail;
  for (size_t i = 0; i < spec->n_types; i++) {
    sr_event_type_t t = spec->types[i].type;
    if (t <= SR_EV_UNSPECIFIED || t >= SR_EV__COUNT || wr->type_names[t])
      continue;
    if (!(wr->names_storage[t] = strdup(spec->types[i].name))) {
      sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
      goto fail;
    }
    wr->type_names[t] = wr->names_storage[t];
  }
  return wr;
fail:
  sr_avro_writer_free(wr);
  return NULL;
}

void sr_avro_writer_free(sr_avro_writer_t *wr) {
  if (!wr)
    return;
  shape_free(&wr->sh);
  for (int t = 0; t < SR_EV__COUNT; t++)
    free(wr->names_storage[t]);
  free(wr);
}

/* sr_avro_encode with the error of sr_errf, so that each failure is one
 * statement. */
static sr_err_t encode_record(sr_avro_writer_t *wr, const sr_event_t *ev,
                              sr_buf_t *out, char *errstr, size_t errlen) {
  avro_value_t *root = &wr->sh.value;
  if (next_value(&wr->sh) != 0 || fill_empty(root, 0) != 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "avro: %s", avro_strerror());
  for (int f = 0; f < SR_MAP__COUNT; f++) {
    const sr_map_seg_t *segs;
    size_t n = sr_mapping_path(wr->sh.map, (sr_map_field_t)f, &segs);
    avro_value_t leaf;
    if (n == 0 || (!sr_mapping_source(wr->sh.map, (sr_map_field_t)f) &&
                   !record_field(wr->sh.schema, segs[0].name)))
      continue;
    if (leaf_at(*root, segs, n, &leaf) != 0 ||
        set_field(wr, (sr_map_field_t)f, &leaf, ev) != 0)
      return sr_errf(errstr, errlen, SR_ERR_INVALID,
                     "avro: the %s of this event cannot be written to field %s",
                     field_names[f],
                     segs[n - 1].name ? segs[n - 1].name : "[N]");
  }
  size_t size;
  if (avro_value_sizeof(root, &size) != 0 || sr_buf_reserve(out, size) != 0)
    return sr_errf(errstr, errlen, SR_ERR_NOMEM, "out of memory");
  avro_writer_t w =
      avro_writer_memory((char *)out->data + out->len, (int64_t)size);
  int rc = w ? avro_value_write(w, root) : ENOMEM;
  if (w)
    avro_writer_free(w);
  if (rc != 0)
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "avro: %s", avro_strerror());
  out->len += size;
  return SR_OK;
}

int sr_avro_encode(sr_avro_writer_t *wr, const sr_event_t *ev, sr_buf_t *out,
                   char *errstr, size_t errlen) {
  return encode_record(wr, ev, out, errstr, errlen) == SR_OK ? 0 : -1;
}
