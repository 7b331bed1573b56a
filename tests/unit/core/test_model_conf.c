/* Tests of the model's settings table: its defaults are what the option
 * reference prints and the config starts from, and every bound holds both
 * where a config is loaded and where a model is made from a conf. */
#include "core/model_conf.h"
#include "daemon/config.h"
#include "streamrec/model.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool is_integer(const sr_opt_t *param) {
  return param->type == SR_OPT_U32 || param->type == SR_OPT_U64;
}

/* The type the option reference shows. */
static const char *type_name(const sr_opt_t *param) {
  switch (param->type) {
  case SR_OPT_U32: return "uint";
  case SR_OPT_U64: return "int";
  case SR_OPT_F32: return "float";
  default: return param->choices;
  }
}

/* Stores v into param's field of conf, as the config loader would. */
static void store(sr_model_conf_t *conf, const sr_opt_t *param, double v) {
  char *field = (char *)conf + param->offset;
  if (param->type == SR_OPT_F32)
    *(float *)field = (float)v;
  else if (param->type == SR_OPT_U64)
    *(uint64_t *)field = (uint64_t)v;
  else
    *(uint32_t *)field = (uint32_t)v;
}

static void test_defaults_are_the_configs(void **state) {
  (void)state;
  sr_model_conf_t conf;
  sr_config_t cfg;
  memset(&conf, 0xab, sizeof conf);
  sr_model_conf_init(&conf);
  sr_config_init(&cfg);
  assert_memory_equal(&conf, &cfg.model, sizeof conf);
  assert_int_equal(conf.dims, 32);
  assert_true(conf.learn_rate == 0.3f);
  assert_true(conf.weights[SR_EV_PURCHASE] == 3.0f);
  assert_true(conf.weights[SR_EV_UNSPECIFIED] == 0.0f);
  assert_true(conf.seed == 42);
  char err[256];
  assert_int_equal(sr_model_conf_check(&conf, err, sizeof err), SR_OK);
}

/* `streamrec config` prints each setting's own default and help. */
static void test_reference_prints_each_default(void **state) {
  (void)state;
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  assert_non_null(out);
  sr_config_print_help(out, "model.");
  fclose(out);
  size_t n;
  const sr_opt_t *params = sr_model_params(&n);
  assert_true(n >= 25);
  for (size_t i = 0; i < n; i++) {
    char want[1024];
    snprintf(want, sizeof want, "  %-26s %s (%s, default '%s')\n",
             params[i].name, params[i].help, type_name(&params[i]),
             params[i].def);
    if (!strstr(text, want))
      fail_msg("the reference lacks '%s'", want);
  }
  free(text);
}

/* sr_model_conf_check refuses v in param's field, naming the option the
 * way the config loader refuses the same value as text. */
static void refused_at_both(const sr_opt_t *param, double v) {
  sr_model_conf_t conf;
  sr_config_t cfg;
  char text[64], check_err[256] = "", load_err[256] = "";
  sr_model_conf_init(&conf);
  store(&conf, param, v);
  /* The value as the field holds it, so both messages quote the same. */
  snprintf(text, sizeof text, "%.9g",
           param->type == SR_OPT_F32 ? (double)(float)v : v);
  if (sr_model_conf_check(&conf, check_err, sizeof check_err) != SR_ERR_INVALID)
    fail_msg("%s = %s passes sr_model_conf_check", param->name, text);
  sr_config_init(&cfg);
  if (sr_config_set(&cfg, param->name, text, load_err, sizeof load_err) !=
      SR_ERR_INVALID)
    fail_msg("%s = %s passes the config loader", param->name, text);
  assert_string_equal(check_err, load_err);
}

/* Both entry points take v. */
static void taken_at_both(const sr_opt_t *param, double v) {
  sr_model_conf_t conf;
  sr_config_t cfg;
  char text[64], err[256] = "";
  sr_model_conf_init(&conf);
  store(&conf, param, v);
  snprintf(text, sizeof text, "%.17g", v);
  if (sr_model_conf_check(&conf, err, sizeof err) != SR_OK)
    fail_msg("%s = %s refused by sr_model_conf_check: %s", param->name, text,
             err);
  sr_config_init(&cfg);
  if (sr_config_set(&cfg, param->name, text, err, sizeof err) != SR_OK)
    fail_msg("%s = %s refused by the config loader: %s", param->name, text,
             err);
}

static void test_every_bound_holds_at_both(void **state) {
  (void)state;
  size_t n;
  const sr_opt_t *params = sr_model_params(&n);
  int refused = 0;
  for (size_t i = 0; i < n; i++) {
    const sr_opt_t *param = &params[i];
    if (param->type == SR_OPT_ENUM)
      continue;
    taken_at_both(param, param->min);
    taken_at_both(param, param->max);
    double type_max = param->type == SR_OPT_U32   ? 4294967295.0
                      : param->type == SR_OPT_U64 ? 18446744073709551615.0
                                                  : 3e38;
    double below = is_integer(param) ? param->min - 1
                   : param->min > 0  ? param->min / 2
                                     : -1;
    /* Past 2^53 a double has no room for max + 1. */
    double above = is_integer(param) && param->max < 1e15 ? param->max + 1
                                                          : param->max * 2;
    if (below >= 0 || param->type == SR_OPT_F32) {
      refused_at_both(param, below);
      refused++;
    }
    if (above <= type_max && param->max < type_max) {
      refused_at_both(param, above);
      refused++;
    }
  }
  /* dims, learn_rate, recent_size, the floats and seed at least. */
  assert_true(refused >= 20);
}

static void test_nan_and_bad_choice_refused(void **state) {
  (void)state;
  sr_model_conf_t conf;
  char err[256] = "";
  sr_model_conf_init(&conf);
  conf.pop_blend = NAN;
  assert_int_equal(sr_model_conf_check(&conf, err, sizeof err), SR_ERR_INVALID);
  assert_non_null(strstr(err, "model.pop_blend"));
  assert_null(sr_model_new(&conf, err, sizeof err));

  sr_model_conf_init(&conf);
  conf.mode = (sr_mode_t)2;
  assert_int_equal(sr_model_conf_check(&conf, err, sizeof err), SR_ERR_INVALID);
  assert_non_null(strstr(err, "model.mode"));
  sr_config_t cfg;
  sr_config_init(&cfg);
  assert_int_equal(sr_config_set(&cfg, "model.mode", "both", err, sizeof err),
                   SR_ERR_INVALID);
  assert_non_null(strstr(err, "model.mode"));
  assert_int_equal(
      sr_config_set(&cfg, "model.mode", "explicit", err, sizeof err), SR_OK);
  assert_int_equal(cfg.model.mode, SR_MODE_EXPLICIT);
  assert_int_equal(sr_model_conf_check(&cfg.model, err, sizeof err), SR_OK);
}

/* sr_model_new is the other entry point: it refuses what the check does. */
static void test_model_new_refuses_out_of_range(void **state) {
  (void)state;
  sr_model_conf_t conf;
  char err[256] = "";
  sr_model_conf_init(&conf);
  conf.negatives = 65;
  assert_null(sr_model_new(&conf, err, sizeof err));
  assert_string_equal(err, "model.negatives: 65 is out of range [0, 64]");
  sr_model_conf_init(&conf);
  conf.dims = 8;
  sr_model_t *mdl = sr_model_new(&conf, err, sizeof err);
  assert_non_null(mdl);
  sr_model_free(mdl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_are_the_configs),
      cmocka_unit_test(test_reference_prints_each_default),
      cmocka_unit_test(test_every_bound_holds_at_both),
      cmocka_unit_test(test_nan_and_bad_choice_refused),
      cmocka_unit_test(test_model_new_refuses_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
