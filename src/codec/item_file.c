/* Item files; see item_file.h. */
#include "codec/item_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

typedef enum {
  FORM_LINES, /* JSON or TSV Items */
  FORM_UITEM, /* MovieLens 100k u.item */
  FORM_DAT,   /* movies.dat */
  FORM_CSV,   /* movies.csv */
} form_t;

/* MovieLens 100k's genre columns, in order. */
static const char *const UITEM_GENRES[] = {
    "unknown",   "Action",   "Adventure",   "Animation", "Children's",
    "Comedy",    "Crime",    "Documentary", "Drama",     "Fantasy",
    "Film-Noir", "Horror",   "Musical",     "Mystery",   "Romance",
    "Sci-Fi",    "Thriller", "War",         "Western"};
#define N_UITEM_GENRES (sizeof(UITEM_GENRES) / sizeof(UITEM_GENRES[0]))

/* Words too common in titles to say anything about a movie. */
static const char *const STOP[] = {"the", "of", "a",  "and", "in", "to",
                                   "la",  "le", "de", "an",  "on", "for"};

static form_t form_of_name(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  if (!strcmp(base, "u.item"))
    return FORM_UITEM;
  if (dot && !strcmp(dot, ".dat"))
    return FORM_DAT;
  if (dot && !strcmp(dot, ".csv"))
    return FORM_CSV;
  return FORM_LINES;
}

/* The MovieLens form a first line shows, FORM_LINES for none: a line of
 * u.item's 24 '|' fields ending in genre flags, "::" between fields, or
 * movies.csv's header, each without a tab. */
static form_t form_of_line(const char *line) {
  /* JSON, or the TSV form's tab. */
  if (line[strspn(line, " ")] == '{' || strchr(line, '\t'))
    return FORM_LINES;
  if (!strncmp(line, "movieId,title", 13))
    return FORM_CSV;
  if (strstr(line, "::"))
    return FORM_DAT;
  size_t bars = 0;
  for (const char *p = line; *p; p++)
    bars += *p == '|';
  const char *flags = strrchr(line, '|');
  if (bars >= 23 && flags && (flags[1] == '0' || flags[1] == '1'))
    return FORM_UITEM;
  return FORM_LINES;
}

/* The form of the file f at path: from its name, else from its first
 * line when f is a regular file (stdin or a pipe cannot be read twice). */
static form_t form_of(const char *path, FILE *f) {
  form_t form = form_of_name(path);
  struct stat st;
  if (form != FORM_LINES || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
    return form;
  char head[1024];
  if (fgets(head, sizeof(head), f))
    form = form_of_line(head);
  rewind(f);
  return form;
}

static int add_prefixed(sr_item_content_t *ct, const char *prefix,
                        const char *s, size_t len) {
  char buf[128];
  int n = snprintf(buf, sizeof(buf), "%s%.*s", prefix, (int)len, s);
  if (n < 0 || (size_t)n >= sizeof(buf))
    return 0; /* a token this long says nothing a shorter one would not */
  return sr_item_content_add(ct, buf, (size_t)n);
}

static int is_stop(const char *w, size_t len) {
  for (size_t k = 0; k < sizeof(STOP) / sizeof(STOP[0]); k++)
    if (strlen(STOP[k]) == len && !memcmp(STOP[k], w, len))
      return 1;
  return 0;
}

/* The year in a title's last "(YYYY)", or 0. */
static int title_year(const char *t, size_t len, size_t *cut) {
  for (size_t k = len; k >= 6; k--) {
    const char *p = t + k - 6;
    if (p[0] == '(' && p[5] == ')' && isdigit((unsigned char)p[1]) &&
        isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[3]) &&
        isdigit((unsigned char)p[4])) {
      *cut = k - 6;
      return atoi(p + 1);
    }
  }
  *cut = len;
  return 0;
}

static int title_words(const char *t, size_t len, sr_item_content_t *ct) {
  char word[64];
  size_t w = 0;
  for (size_t k = 0; k <= len; k++) {
    unsigned char c = k < len ? (unsigned char)t[k] : ' ';
    if (isalnum(c) || c >= 0x80) {
      if (w < sizeof(word))
        word[w++] = (char)tolower(c);
      continue;
    }
    if (w >= 2 && w < sizeof(word) && !is_stop(word, w) &&
        add_prefixed(ct, "title:", word, w) != 0)
      return -1;
    w = 0;
  }
  return 0;
}

int sr_item_movie_features(const char *title, size_t title_len,
                           const char *genres, size_t genres_len,
                           sr_item_content_t *ct) {
  size_t cut;
  int year = title_year(title, title_len, &cut);
  char buf[16];
  if (year > 0) {
    snprintf(buf, sizeof(buf), "%d", year);
    if (add_prefixed(ct, "year:", buf, strlen(buf)) != 0)
      return -1;
    snprintf(buf, sizeof(buf), "%d", year / 10 * 10);
    if (add_prefixed(ct, "decade:", buf, strlen(buf)) != 0)
      return -1;
  }
  if (title_words(title, cut, ct) != 0)
    return -1;
  const char *p = genres, *end = genres + genres_len;
  while (p < end) {
    const char *q = memchr(p, '|', (size_t)(end - p));
    q = q ? q : end;
    if (q > p && *p != '(' && add_prefixed(ct, "genre:", p, (size_t)(q - p)))
      return -1;
    p = q + 1;
  }
  return 0;
}

/* Splits line at sep into at most max fields. Returns the count. */
static size_t split(char *line, const char *sep, char **f, size_t *flen,
                    size_t max) {
  size_t n = 0, slen = strlen(sep);
  char *p = line;
  while (n < max) {
    char *q = strstr(p, sep);
    f[n] = p;
    flen[n++] = q ? (size_t)(q - p) : strlen(p);
    if (!q)
      break;
    p = q + slen;
  }
  return n;
}

/* movies.csv: movieId,title,genres; the title may be quoted ("" inside a
 * quote is one "). The title is unquoted in place. */
static size_t split_csv(char *line, char **f, size_t *flen) {
  char *id_end = strchr(line, ',');
  if (!id_end)
    return 0;
  f[0] = line;
  flen[0] = (size_t)(id_end - line);
  char *p = id_end + 1, *out = p;
  f[1] = p;
  if (*p == '"') {
    for (p++; *p; p++) {
      if (*p == '"' && p[1] == '"')
        *out++ = *p++;
      else if (*p == '"')
        break;
      else
        *out++ = *p;
    }
    flen[1] = (size_t)(out - f[1]);
    p = *p ? p + 1 : p;
  } else {
    char *q = strrchr(p, ',');
    p = q ? q : p + strlen(p);
    flen[1] = (size_t)(p - f[1]);
  }
  if (*p != ',')
    return 2;
  f[2] = p + 1;
  flen[2] = strlen(p + 1);
  return 3;
}

/* u.item: the genres are flag columns 5.. ; they become a '|' list. */
static int uitem_genres(char **f, size_t n, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t g = 0; g < N_UITEM_GENRES && 5 + g < n; g++) {
    if (f[5 + g][0] != '1')
      continue;
    int w =
        snprintf(out + len, cap - len, "%s%s", len ? "|" : "", UITEM_GENRES[g]);
    if (w < 0 || (size_t)w >= cap - len)
      break;
    len += (size_t)w;
  }
  return (int)len;
}

/* One MovieLens line into item and ct. Returns the reason. */
static sr_reason_t movie_line(form_t form, char *line, sr_item_t *item,
                              sr_item_content_t *ct, char *errstr,
                              size_t errlen) {
  char *f[32];
  size_t flen[32], n;
  char genres[512];
  size_t glen;
  if (form == FORM_CSV)
    n = split_csv(line, f, flen);
  else
    n = split(line, form == FORM_DAT ? "::" : "|", f, flen, 32);
  if (n < (form == FORM_UITEM ? 5u : 2u)) {
    snprintf(errstr, errlen, "a movie line needs an id and a title");
    return SR_REASON_DECODE;
  }
  if (form == FORM_UITEM) {
    glen = (size_t)uitem_genres(f, n, genres, sizeof(genres));
  } else {
    glen = n > 2 ? flen[2] : 0;
    snprintf(genres, sizeof(genres), "%.*s", (int)glen, n > 2 ? f[2] : "");
    glen = strlen(genres);
  }
  /* The id checks are the TSV form's: the id alone is a valid TSV line. */
  sr_reason_t reason =
      sr_item_parse_tsv(f[0], flen[0], 0, 0, item, ct, errstr, errlen);
  if (reason == SR_REASON_OK &&
      sr_item_movie_features(f[1], flen[1], genres, glen, ct) != 0) {
    snprintf(errstr, errlen, "out of memory");
    reason = SR_REASON_DECODE;
  }
  item->n_features = ct->n_features;
  return reason;
}

static sr_reason_t line_item(form_t form, char *line, size_t len,
                             size_t emb_dims, sr_item_t *item,
                             sr_item_content_t *ct, char *errstr,
                             size_t errlen) {
  if (form != FORM_LINES)
    return movie_line(form, line, item, ct, errstr, errlen);
  if (line[strspn(line, " ")] == '{')
    return sr_item_decode_content(line, len, SR_WIRE_JSON, 0, emb_dims, item,
                                  ct, errstr, errlen);
  return sr_item_parse_tsv(line, len, 0, emb_dims, item, ct, errstr, errlen);
}

int sr_item_file_read(const char *path, size_t emb_dims, sr_item_file_fn *fn,
                      void *opaque, uint64_t *rejected, char *errstr,
                      size_t errlen) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  if (!f) {
    snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  form_t form = form_of(path, f);
  char *line = NULL, why[256];
  size_t cap = 0;
  ssize_t len;
  int rc = 0, first = 1;
  while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    int header = first && form == FORM_CSV;
    first = 0;
    if (len == 0 || header)
      continue;
    sr_item_t item;
    sr_item_content_t ct = {0};
    sr_reason_t reason = line_item(form, line, (size_t)len, emb_dims, &item,
                                   &ct, why, sizeof(why));
    if (reason == SR_REASON_OK)
      rc = fn(opaque, &item, &ct);
    else if ((*rejected)++ == 0)
      snprintf(errstr, errlen, "%s: %s", path, why);
    sr_item_content_free(&ct);
  }
  free(line);
  if (f != stdin)
    fclose(f);
  return rc;
}
