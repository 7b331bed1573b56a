/* Avro events: records written by Avro's C library (its generic values
 * and avro_value_write, directly and through streamrec's writer) read by
 * every path form (nested records, an array index, a map key, unions with
 * null, enums), ids given as numbers, every timestamp form, every
 * rejection reason naming the configured path, bytes that are not a
 * record, and the schemas and mappings refused at start with their key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "codec/avro_event.h"

#include <avro.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2023-11-14T22:13:20Z */
#define T0 1700000000000LL

static const char shop_schema[] =
    "{\"type\":\"record\",\"name\":\"Click\",\"namespace\":\"shop\","
    "\"fields\":["
    "{\"name\":\"context\",\"type\":{\"type\":\"record\",\"name\":\"Ctx\","
    "\"fields\":[{\"name\":\"user\",\"type\":[\"null\",{\"type\":\"record\","
    "\"name\":\"User\",\"fields\":[{\"name\":\"id\",\"type\":[\"null\","
    "\"string\",\"long\",\"boolean\"]}]}]}]}},"
    "{\"name\":\"items\",\"type\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"record\",\"name\":\"Item\",\"fields\":[{\"name\":\"sku\",\"type\":"
    "\"long\"},{\"name\":\"price\",\"type\":[\"null\",\"double\",\"string\"]}"
    "]}}},"
    "{\"name\":\"action\",\"type\":{\"type\":\"enum\",\"name\":\"Action\","
    "\"symbols\":[\"page_view\",\"add_to_basket\",\"order\",\"signup\"]}},"
    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
    "\"timestamp-millis\"}},"
    "{\"name\":\"props\",\"type\":{\"type\":\"map\",\"values\":\"string\"}}"
    "]}";

static const sr_type_alias_t shop_types[] = {
    {"page_view", SR_EV_VIEW},
    {"add_to_basket", SR_EV_ADD_TO_CART},
    {"order", SR_EV_PURCHASE},
};

static sr_mapping_spec_t shop_spec(void) {
  return (sr_mapping_spec_t){
      .prefix = "input.",
      .fields = {"context.user.id", "items[0].sku", "action", "items[0].price",
                 "ts"},
      .types = shop_types,
      .n_types = 3,
  };
}

static sr_avro_reader_t *reader(const char *schema,
                                const sr_mapping_spec_t *spec) {
  char err[256] = "";
  sr_avro_reader_t *rd = sr_avro_reader_new_json(
      schema, strlen(schema), "input.", spec, err, sizeof err);
  if (!rd)
    fail_msg("%s", err);
  return rd;
}

/* A generic record of schema, written by the library. */
typedef struct record {
  avro_schema_t schema;
  avro_value_iface_t *iface;
  avro_value_t root;
} record_t;

static void record_new(record_t *rec, const char *schema) {
  assert_int_equal(
      avro_schema_from_json_length(schema, strlen(schema), &rec->schema), 0);
  rec->iface = avro_generic_class_from_schema(rec->schema);
  assert_non_null(rec->iface);
  assert_int_equal(avro_generic_value_new(rec->iface, &rec->root), 0);
}

static void record_free(record_t *rec) {
  avro_value_decref(&rec->root);
  avro_value_iface_decref(rec->iface);
  avro_schema_decref(rec->schema);
}

static avro_value_t field(avro_value_t *v, const char *name) {
  avro_value_t child;
  assert_int_equal(avro_value_get_by_name(v, name, &child, NULL), 0);
  return child;
}

static avro_value_t branch(avro_value_t *v, int b) {
  avro_value_t child;
  assert_int_equal(avro_value_set_branch(v, b, &child), 0);
  return child;
}

static void write_record(record_t *rec, sr_buf_t *out) {
  size_t size;
  assert_int_equal(avro_value_sizeof(&rec->root, &size), 0);
  out->len = 0;
  assert_int_equal(sr_buf_reserve(out, size), 0);
  avro_writer_t w = avro_writer_memory(out->data, (int64_t)size);
  assert_int_equal(avro_value_write(w, &rec->root), 0);
  avro_writer_free(w);
  out->len = size;
}

/* A shop click of user (NULL: user null; "": id null; "#N": id the long
 * N; "?": id a boolean) with items[0] of sku (none when < 0) and price
 * (NULL: null). */
static void shop_click(sr_buf_t *out, const char *user, long sku,
                       const char *price, int action, int64_t ts) {
  record_t rec;
  record_new(&rec, shop_schema);
  avro_value_t ctx = field(&rec.root, "context");
  avro_value_t u = field(&ctx, "user");
  if (!user) {
    branch(&u, 0);
  } else {
    avro_value_t urec = branch(&u, 1);
    avro_value_t id = field(&urec, "id");
    if (!*user)
      branch(&id, 0);
    else if (user[0] == '#') {
      avro_value_t l = branch(&id, 2);
      avro_value_set_long(&l, atol(user + 1));
    } else if (user[0] == '?') {
      avro_value_t b = branch(&id, 3);
      avro_value_set_boolean(&b, 1);
    } else {
      avro_value_t s = branch(&id, 1);
      avro_value_set_string(&s, user);
    }
  }
  avro_value_t items = field(&rec.root, "items");
  if (sku >= 0) {
    avro_value_t item, p;
    assert_int_equal(avro_value_append(&items, &item, NULL), 0);
    avro_value_t s = field(&item, "sku");
    avro_value_set_long(&s, sku);
    avro_value_t pu = field(&item, "price");
    if (!price) {
      branch(&pu, 0);
    } else if (price[0] == '$') {
      p = branch(&pu, 2);
      avro_value_set_string(&p, price + 1);
    } else {
      p = branch(&pu, 1);
      avro_value_set_double(&p, atof(price));
    }
  }
  avro_value_t a = field(&rec.root, "action");
  avro_value_set_enum(&a, action);
  avro_value_t t = field(&rec.root, "ts");
  avro_value_set_long(&t, ts);
  avro_value_t props = field(&rec.root, "props"), pv;
  assert_int_equal(avro_value_add(&props, "campaign", &pv, NULL, NULL), 0);
  avro_value_set_string(&pv, "spring");
  write_record(&rec, out);
  record_free(&rec);
}

static sr_reason_t decode(sr_avro_reader_t *rd, const sr_buf_t *buf,
                          sr_event_t *ev, char *why) {
  static const sr_event_limits_t lim = {.max_id_len = 64};
  memset(ev, 0, sizeof *ev);
  why[0] = '\0';
  return sr_avro_decode(rd, buf->data, buf->len, NULL, &lim, ev, why, 256);
}

static void test_nested_paths_unions_enum(void **state) {
  (void)state;
  sr_mapping_spec_t spec = shop_spec();
  sr_avro_reader_t *rd = reader(shop_schema, &spec);
  sr_buf_t buf = {0};
  sr_event_t ev;
  char why[256];
  shop_click(&buf, "u-7", 12345, "19.5", 2, T0);
  assert_int_equal(decode(rd, &buf, &ev, why), SR_REASON_OK);
  assert_string_equal(ev.user_id, "u-7");
  assert_string_equal(ev.item_id, "12345"); /* a long as its decimal text */
  assert_int_equal(ev.type, SR_EV_PURCHASE);
  assert_true(ev.value == 19.5f);
  assert_true(ev.timestamp_ms == T0); /* timestamp-millis */

  /* An id given as a number, a price given as text. */
  shop_click(&buf, "#42", 7, "$2.5", 0, T0 + 1);
  assert_int_equal(decode(rd, &buf, &ev, why), SR_REASON_OK);
  assert_string_equal(ev.user_id, "42");
  assert_int_equal(ev.type, SR_EV_VIEW);
  assert_true(ev.value == 2.5f);
  sr_avro_reader_free(rd);

  /* A map's key, present and absent. */
  spec.fields[SR_MAP_USER_ID] = "props.campaign";
  rd = reader(shop_schema, &spec);
  assert_int_equal(decode(rd, &buf, &ev, why), SR_REASON_OK);
  assert_string_equal(ev.user_id, "spring");
  sr_avro_reader_free(rd);
  spec.fields[SR_MAP_USER_ID] = "props.medium";
  rd = reader(shop_schema, &spec);
  assert_int_equal(decode(rd, &buf, &ev, why), SR_REASON_MISSING_FIELD);
  assert_non_null(strstr(why, "props.medium"));
  sr_buf_free(&buf);
  sr_avro_reader_free(rd);
}

static void expect(sr_avro_reader_t *rd, const sr_buf_t *buf,
                   sr_reason_t reason, const char *words) {
  sr_event_t ev;
  char why[256];
  assert_int_equal(decode(rd, buf, &ev, why), reason);
  if (!strstr(why, words))
    fail_msg("'%s' lacks '%s'", why, words);
}

static void test_rejections_name_the_path(void **state) {
  (void)state;
  sr_mapping_spec_t spec = shop_spec();
  sr_avro_reader_t *rd = reader(shop_schema, &spec);
  sr_buf_t buf = {0};
  shop_click(&buf, NULL, 1, "1", 0, T0); /* the user record is null */
  expect(rd, &buf, SR_REASON_MISSING_FIELD, "user_id (context.user.id)");
  shop_click(&buf, "", 1, "1", 0, T0); /* the id is null */
  expect(rd, &buf, SR_REASON_MISSING_FIELD, "context.user.id");
  shop_click(&buf, "u", -1, "1", 0, T0); /* no items */
  expect(rd, &buf, SR_REASON_MISSING_FIELD, "item_id (items[0].sku)");
  shop_click(&buf, "u", 1, NULL, 0, T0); /* a null price */
  expect(rd, &buf, SR_REASON_MISSING_FIELD, "value (items[0].price)");
  shop_click(&buf, "?", 1, "1", 0, T0); /* a boolean id */
  expect(rd, &buf, SR_REASON_BAD_FIELD, "context.user.id");
  shop_click(&buf, "u", 1, "$cheap", 0, T0);
  expect(rd, &buf, SR_REASON_BAD_FIELD, "items[0].price");
  shop_click(&buf, "u", 1, "1", 3, T0); /* signup: no type of ours */
  expect(rd, &buf, SR_REASON_UNKNOWN_TYPE, "\"signup\" (action)");
  /* streamrec's own checks after the mapping: an empty id, a size limit. */
  shop_click(&buf, "u", 1, "1", 0, T0);
  sr_event_t ev;
  char why[256];
  sr_event_limits_t small = {.max_message_bytes = 8};
  assert_int_equal(
      sr_avro_decode(rd, buf.data, buf.len, NULL, &small, &ev, why, sizeof why),
      SR_REASON_TOO_LARGE);
  record_t rec;
  record_new(&rec, shop_schema);
  avro_value_t ctx = field(&rec.root, "context"), u = field(&ctx, "user");
  avro_value_t urec = branch(&u, 1), id = field(&urec, "id");
  avro_value_t s = branch(&id, 1);
  avro_value_set_string(&s, "");
  avro_value_t items = field(&rec.root, "items"), item;
  avro_value_append(&items, &item, NULL);
  avro_value_t price = field(&item, "price"), dbl = branch(&price, 1);
  avro_value_set_double(&dbl, 1);
  write_record(&rec, &buf);
  record_free(&rec);
  expect(rd, &buf, SR_REASON_EMPTY_ID, "user_id is empty");
  sr_avro_reader_free(rd);

  spec.unknown_types = SR_UNKNOWN_SKIP;
  rd = reader(shop_schema, &spec);
  shop_click(&buf, "u", 1, "1", 3, T0);
  expect(rd, &buf, SR_REASON_SKIPPED_TYPE, "action");
  sr_buf_free(&buf);
  sr_avro_reader_free(rd);
}

/* The record's bytes must be one record of the schema, nothing more or
 * less; a length past the end allocates nothing. */
static void test_bytes_that_are_not_a_record(void **state) {
  (void)state;
  sr_mapping_spec_t spec = shop_spec();
  sr_avro_reader_t *rd = reader(shop_schema, &spec);
  sr_buf_t buf = {0};
  shop_click(&buf, "u", 1, "1", 0, T0);
  size_t full = buf.len;
  buf.len = full - 1;
  expect(rd, &buf, SR_REASON_DECODE, "not a record of the schema");
  buf.len = full;
  assert_int_equal(sr_buf_append(&buf, "x", 1), 0);
  expect(rd, &buf, SR_REASON_DECODE, "1 bytes after the record");
  /* user present (branch 1), id a string of length 2^62. */
  const unsigned char huge[] = {0x02, 0x02, 0xFC, 0xFF, 0xFF, 0xFF,
                                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F};
  sr_buf_t hb = {(char *)huge, sizeof huge, sizeof huge};
  expect(rd, &hb, SR_REASON_DECODE, "not a record");
  const unsigned char branch9[] = {0x12};
  sr_buf_t bb = {(char *)branch9, 1, 1};
  expect(rd, &bb, SR_REASON_DECODE, "not a record");
  sr_buf_t empty = {0};
  expect(rd, &empty, SR_REASON_DECODE, "not a record");
  sr_buf_free(&buf);
  sr_avro_reader_free(rd);
}

static const char times_schema[] =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
    "{\"name\":\"u\",\"type\":\"string\"},{\"name\":\"i\",\"type\":\"string\"},"
    "{\"name\":\"secs\",\"type\":\"long\"},"
    "{\"name\":\"fsecs\",\"type\":\"double\"},"
    "{\"name\":\"iso\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"micros\",\"type\":[\"null\",{\"type\":\"long\","
    "\"logicalType\":\"timestamp-micros\"}]}]}";

/* Writes u, i, secs, fsecs, iso and micros by the library and reads the
 * timestamp from field ts_path in format fmt. */
static sr_reason_t read_time(const char *ts_path, sr_ts_fmt_t fmt,
                             const char *iso, int64_t *ms, char *why) {
  record_t rec;
  record_new(&rec, times_schema);
  avro_value_t v = field(&rec.root, "u");
  avro_value_set_string(&v, "u1");
  v = field(&rec.root, "i");
  avro_value_set_string(&v, "i1");
  v = field(&rec.root, "secs");
  avro_value_set_long(&v, T0 / 1000);
  v = field(&rec.root, "fsecs");
  avro_value_set_double(&v, T0 / 1000.0 + 0.25);
  v = field(&rec.root, "iso");
  avro_value_t s = branch(&v, 1);
  avro_value_set_string(&s, iso);
  v = field(&rec.root, "micros");
  s = branch(&v, 1);
  avro_value_set_long(&s, T0 * 1000 + 999);
  sr_buf_t buf = {0};
  write_record(&rec, &buf);
  record_free(&rec);
  sr_mapping_spec_t spec = {.prefix = "input.",
                            .fields = {"u", "i", "=VIEW", "", ts_path},
                            .timestamp_format = fmt};
  sr_avro_reader_t *rd = reader(times_schema, &spec);
  sr_event_t ev;
  sr_reason_t reason = decode(rd, &buf, &ev, why);
  *ms = ev.timestamp_ms;
  sr_avro_reader_free(rd);
  sr_buf_free(&buf);
  return reason;
}

static void test_timestamp_forms(void **state) {
  (void)state;
  int64_t ms;
  char why[256];
  assert_int_equal(read_time("secs", SR_TS_AUTO, "", &ms, why), SR_REASON_OK);
  assert_true(ms == T0);
  assert_int_equal(read_time("secs", SR_TS_S, "", &ms, why), SR_REASON_OK);
  assert_true(ms == T0);
  assert_int_equal(read_time("fsecs", SR_TS_AUTO, "", &ms, why), SR_REASON_OK);
  assert_true(ms == T0 + 250);
  assert_int_equal(read_time("micros", SR_TS_S, "", &ms, why), SR_REASON_OK);
  assert_true(ms == T0); /* the logical type wins over the format */
  assert_int_equal(
      read_time("iso", SR_TS_AUTO, "2023-11-15T00:13:20.5+02:00", &ms, why),
      SR_REASON_OK);
  assert_true(ms == T0 + 500);
  assert_int_equal(read_time("iso", SR_TS_AUTO, "yesterday", &ms, why),
                   SR_REASON_BAD_TIMESTAMP);
  assert_non_null(strstr(why, "timestamp (iso)"));
  assert_int_equal(read_time("secs", SR_TS_ISO8601, "", &ms, why),
                   SR_REASON_BAD_TIMESTAMP);
}

/* streamrec's writer encodes through the library: what it writes by a
 * mapping reads back by the same one, map keys and the platform's type
 * names included; the default schema holds streamrec's own Event. */
static void test_writer_round_trip(void **state) {
  (void)state;
  sr_event_t ev = {.user_id = "u9",
                   .item_id = "31337",
                   .user_len = 2,
                   .item_len = 5,
                   .type = SR_EV_ADD_TO_CART,
                   .value = 3.5f,
                   .timestamp_ms = T0 + 7};
  sr_mapping_spec_t spec = shop_spec();
  spec.fields[SR_MAP_USER_ID] = "props.uid";
  char err[256] = "";
  sr_avro_writer_t *wr = sr_avro_writer_new(shop_schema, strlen(shop_schema),
                                            &spec, err, sizeof err);
  assert_non_null(wr);
  sr_buf_t buf = {0};
  assert_int_equal(sr_avro_encode(wr, &ev, &buf, err, sizeof err), 0);
  sr_avro_reader_t *rd = reader(shop_schema, &spec);
  sr_event_t got;
  char why[256];
  assert_int_equal(decode(rd, &buf, &got, why), SR_REASON_OK);
  assert_string_equal(got.user_id, "u9");
  assert_string_equal(got.item_id, "31337");
  assert_int_equal(got.type, SR_EV_ADD_TO_CART);
  assert_true(got.value == 3.5f && got.timestamp_ms == T0 + 7);
  /* An item id that the long sku cannot hold. */
  memcpy(ev.item_id, "abc", 4);
  ev.item_len = 3;
  assert_int_equal(sr_avro_encode(wr, &ev, &buf, err, sizeof err), -1);
  assert_non_null(strstr(err, "item_id"));
  sr_avro_writer_free(wr);
  sr_avro_reader_free(rd);

  sr_mapping_spec_t native = {.prefix = "input."};
  wr =
      sr_avro_writer_new(sr_avro_default_schema, strlen(sr_avro_default_schema),
                         &native, err, sizeof err);
  rd = reader(sr_avro_default_schema, &native);
  buf.len = 0;
  memcpy(ev.item_id, "i1", 3);
  ev.item_len = 2;
  assert_int_equal(sr_avro_encode(wr, &ev, &buf, err, sizeof err), 0);
  assert_int_equal(decode(rd, &buf, &got, why), SR_REASON_OK);
  assert_string_equal(got.item_id, "i1");
  assert_int_equal(got.type, SR_EV_ADD_TO_CART);
  assert_true(got.timestamp_ms == T0 + 7);
  sr_avro_writer_free(wr);
  sr_avro_reader_free(rd);
  sr_buf_free(&buf);
}

static void refused(const char *schema, const sr_mapping_spec_t *spec,
                    const char *words) {
  char err[512] = "";
  sr_avro_reader_t *rd = sr_avro_reader_new_json(
      schema, strlen(schema), "input.topics.clicks.", spec, err, sizeof err);
  assert_null(rd);
  if (!strstr(err, words))
    fail_msg("'%s' lacks '%s'", err, words);
}

static void test_refused_at_start(void **state) {
  (void)state;
  sr_mapping_spec_t spec = shop_spec();
  refused("{\"type\":", &spec, "input.topics.clicks.avro.schema_file: not an");
  refused("\"string\"", &spec, "not a record");
  spec.fields[SR_MAP_USER_ID] = "context.account.id";
  refused(shop_schema, &spec, "input.fields.user_id: 'context.account.id'");
  spec = shop_spec();
  spec.fields[SR_MAP_ITEM_ID] = "items"; /* an array, not a value */
  refused(shop_schema, &spec, "input.fields.item_id: 'items'");
  spec = shop_spec();
  spec.fields[SR_MAP_TIMESTAMP] = "action"; /* an enum */
  refused(shop_schema, &spec, "input.fields.timestamp");
  spec = shop_spec();
  spec.fields[SR_MAP_VALUE] = "items..price";
  refused(shop_schema, &spec, "input.fields.value");
  sr_mapping_spec_t native = {.prefix = "input."}; /* no user_id member */
  refused(shop_schema, &native, "input.fields.user_id: 'user_id'");

  char err[512] = "";
  assert_null(sr_avro_reader_new("/nonexistent/x.avsc", "input.", &spec, err,
                                 sizeof err));
  assert_non_null(
      strstr(err, "input.avro.schema_file: cannot read '/nonexistent/x.avsc'"));
  assert_null(sr_avro_reader_new("", "input.", &spec, err, sizeof err));
  assert_non_null(strstr(err, "no schema file given"));

  char path[] = "/tmp/sr_avro_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, shop_schema, strlen(shop_schema)),
                   (ssize_t)strlen(shop_schema));
  close(fd);
  spec = shop_spec();
  sr_avro_reader_t *rd =
      sr_avro_reader_new(path, "input.", &spec, err, sizeof err);
  assert_non_null(rd);
  sr_avro_reader_free(rd);
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nested_paths_unions_enum),
      cmocka_unit_test(test_rejections_name_the_path),
      cmocka_unit_test(test_bytes_that_are_not_a_record),
      cmocka_unit_test(test_timestamp_forms),
      cmocka_unit_test(test_writer_round_trip),
      cmocka_unit_test(test_refused_at_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
