/* Error names and event-type names. */
#include "streamrec/common.h"

#include <string.h>
#include <strings.h>

const char *sr_err_str(sr_err_t err) {
  switch (err) {
  case SR_OK: return "success";
  case SR_ERR_NOMEM: return "out of memory";
  case SR_ERR_INVALID: return "invalid argument";
  case SR_ERR_IO: return "I/O error";
  case SR_ERR_MAGIC: return "not a streamrec file";
  case SR_ERR_VERSION: return "unsupported format version";
  case SR_ERR_TRUNCATED: return "truncated";
  case SR_ERR_CRC: return "checksum mismatch";
  case SR_ERR_CORRUPT: return "corrupt";
  case SR_ERR_DIMS: return "incompatible dims or mode";
  case SR_ERR_NOT_FOUND: return "not found";
  case SR_ERR_DECODE: return "undecodable input";
  }
  return "unknown error";
}

static const char *const type_names[SR_EV__COUNT] = {"EVENT_TYPE_UNSPECIFIED",
                                                     "VIEW",
                                                     "CLICK",
                                                     "ADD_TO_CART",
                                                     "PURCHASE",
                                                     "LIKE",
                                                     "DISLIKE",
                                                     "RATING"};

const char *sr_event_type_name(sr_event_type_t type) {
  if ((int)type < 0 || type >= SR_EV__COUNT)
    return NULL;
  return type_names[type];
}

int sr_event_type_parse(const char *name, sr_event_type_t *type) {
  for (int i = 1; i < SR_EV__COUNT; i++) {
    if (strcasecmp(name, type_names[i]) == 0) {
      *type = (sr_event_type_t)i;
      return 0;
    }
  }
  return -1;
}
