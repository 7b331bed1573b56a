/* The daemon behind `streamrec run`: one libuv loop that owns the model and
 * wires the consumer (source), the learner, the top-N batcher (refresh),
 * the producer (sink), checkpoints (saver), signals, timers and the
 * progress line. Every handle is created, run and closed on the thread that
 * calls sr_daemon_run; librdkafka's threads and the libuv thread pool only
 * do I/O. */
#ifndef SR_LOOP_H
#define SR_LOOP_H

#include "daemon/config.h"
#include "kafka/source.h"

#include <stdbool.h>

/* Command-line choices of `streamrec run` that are not config options. */
typedef struct sr_run_opts {
  sr_from_t from;     /* where partitions without an offset start */
  int64_t from_ts_ms; /* SR_FROM_TIMESTAMP */
  bool until_end;     /* exit once the end offsets taken at start are reached */
  bool no_publish;    /* learn only: no lists are published */
  bool progress;      /* draw a progress line on stderr */
} sr_run_opts_t;

typedef struct sr_daemon sr_daemon_t;

/* Loads the newest verifying checkpoint (or starts empty), starts the
 * embedded broker when kafka.brokers is "embedded" and creates the Kafka
 * clients. Returns NULL with errstr: SR_ERR_INVALID (a bad option, named)
 * or SR_ERR_DIMS (a checkpoint that contradicts the config) in *err mean
 * exit code 2, anything else 1. */
sr_daemon_t *sr_daemon_new(const sr_config_t *cfg, const sr_run_opts_t *opts,
                           sr_err_t *err, char *errstr, size_t errlen);

/* Runs until SIGTERM/SIGINT, --until end completes, or a fatal error;
 * stops cleanly (flush, final checkpoint, commit). Returns the exit code:
 * 0, or 1 when the final checkpoint or the run failed. */
int sr_daemon_run(sr_daemon_t *d);

/* Leaves the group, destroys the clients and the broker, frees everything.
 * Accepts NULL. */
void sr_daemon_free(sr_daemon_t *d);

#endif
