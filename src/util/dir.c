/* Creating a directory with its parents. */
#include "util/dir.h"
#include "util/err.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

sr_err_t sr_dir_err(int errnum) {
  return errnum == ENOTDIR || errnum == ENAMETOOLONG || errnum == ELOOP
             ? SR_ERR_INVALID
             : SR_ERR_IO;
}

sr_err_t sr_dir_ensure(const char *path, mode_t mode, char *errstr,
                       size_t errlen) {
  char part[PATH_MAX];
  if (!path[0])
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "empty directory name");
  if (strlen(path) >= sizeof(part))
    return sr_errf(errstr, errlen, SR_ERR_INVALID, "%s: %s", path,
                   strerror(ENAMETOOLONG));
  memcpy(part, path, strlen(path) + 1);
  /* Each prefix ending at a slash, then the whole path. An existing prefix
   * is passed over whatever it is: a file there makes the next mkdir fail
   * with ENOTDIR, and the final stat catches a file at the end. */
  for (char *p = part + 1;; p++) {
    bool end = *p == '\0';
    if (*p != '/' && !end)
      continue;
    *p = '\0';
    if (mkdir(part, mode) != 0 && errno != EEXIST) {
      int saved = errno;
      return sr_errf(errstr, errlen, sr_dir_err(saved), "cannot create %s: %s",
                     part, strerror(saved));
    }
    if (end)
      break;
    *p = '/';
  }
  struct stat st;
  if (stat(path, &st) != 0) {
    int saved = errno;
    return sr_errf(errstr, errlen, sr_dir_err(saved), "%s: %s", path,
                   strerror(saved));
  }
  if (!S_ISDIR(st.st_mode))
    return sr_errf(errstr, errlen, SR_ERR_INVALID,
                   "%s exists and is not a directory", path);
  return SR_OK;
}
