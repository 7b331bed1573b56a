/* Directories the daemon writes into. Any thread; no shared state. */
#ifndef SR_UTIL_DIR_H
#define SR_UTIL_DIR_H

#include "streamrec/common.h"

#include <sys/types.h>

/* Creates path and every missing parent with mode (less the umask), like
 * `mkdir -p`, and checks that path is a directory. Does not check that it
 * can be written. Returns SR_OK; SR_ERR_INVALID when path is empty or too
 * long, or it or a parent is something other than a directory; SR_ERR_IO
 * when the system refuses otherwise (permissions, read-only file system).
 * errstr names the path: "cannot create P: why", "P: why", or
 * "P exists and is not a directory". */
sr_err_t sr_dir_ensure(const char *path, mode_t mode, char *errstr,
                       size_t errlen);

/* SR_ERR_INVALID for an errno saying the path itself is wrong (ENOTDIR,
 * ENAMETOOLONG, ELOOP: a configuration error that no retry mends), else
 * SR_ERR_IO (permissions, a read-only or full file system). */
sr_err_t sr_dir_err(int errnum);

#endif
