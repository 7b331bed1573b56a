/* Tests of the member id a cluster instance signs its item deltas with,
 * and of which checkpoint offsets belong to the sync rather than to the
 * input. The publishing and applying of batches run against a broker in
 * tests/integration/test_cluster_sync.sh. */
#include "daemon/sync.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static sr_offset_t offset(const char *topic, int32_t p, int64_t off) {
  sr_offset_t o = {.partition = p, .offset = off};
  snprintf(o.topic, sizeof(o.topic), "%s", topic);
  return o;
}

/* cluster.instance_id wins; else the checkpoint's member entry; else a new
 * random id, different on each start without a checkpoint. */
static void test_member_id_sources(void **state) {
  (void)state;
  char id[SR_SYNC_MEMBER_MAX + 1];
  sr_offset_t offs[2] = {offset("events", 0, 10),
                         offset("member:m-0123456789abcdef", -1, -1)};
  assert_false(sr_sync_member_id("node-1", offs, 2, id, sizeof(id)));
  assert_string_equal(id, "node-1");
  assert_false(sr_sync_member_id("", offs, 2, id, sizeof(id)));
  assert_string_equal(id, "m-0123456789abcdef");
  char other[SR_SYNC_MEMBER_MAX + 1];
  assert_true(sr_sync_member_id("", offs, 1, id, sizeof(id)));
  assert_true(sr_sync_member_id(NULL, NULL, 0, other, sizeof(other)));
  assert_int_equal(strlen(id), 18);
  assert_memory_equal(id, "m-", 2);
  assert_string_not_equal(id, other);
}

/* The source must not take the sync topic's or the member id's entries
 * for input partitions of its own. */
static void test_owned_offsets(void **state) {
  (void)state;
  sr_offset_t in = offset("events", 0, 5), sync = offset("deltas", 0, 7),
              member = offset("member:a", -1, -1);
  assert_false(sr_sync_owns_offset("deltas", &in));
  assert_true(sr_sync_owns_offset("deltas", &sync));
  assert_true(sr_sync_owns_offset("deltas", &member));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_member_id_sources),
      cmocka_unit_test(test_owned_offsets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
