/* Item files: the catalogue read from a file for eval and tests. The form
 * comes from the file's name, or when that says nothing from its first
 * line (u.item's 24 '|' fields, "::", movies.csv's "movieId,title"
 * header):
 *   u.item       MovieLens 100k: id|title|release date|video date|url|19
 *                genre flags
 *   *.dat        MovieLens 1M and MovieTweetings movies.dat:
 *                id::title (year)::genre|genre...
 *   *.csv        MovieLens "latest" movies.csv: movieId,title,genres (a
 *                header line; titles may be quoted)
 *   otherwise    one Item per line: proto3 JSON when the line starts with
 *                '{', else the TSV form item_id<TAB>features<TAB>embedding
 *                (sr_item_parse_tsv)
 * A MovieLens movie's features are its genres ("genre:Drama"), its year and
 * decade ("year:1995", "decade:1990") and the words of its title
 * ("title:story"), lower-case. Caller's thread. */
#ifndef SR_CODEC_ITEM_FILE_H
#define SR_CODEC_ITEM_FILE_H

#include "codec/item_codec.h"

#include <stddef.h>
#include <stdint.h>

/* Called with each valid item; returns 0 to go on, non-zero to stop the
 * read with that value. */
typedef int sr_item_file_fn(void *opaque, const sr_item_t *item,
                            const sr_item_content_t *ct);

/* Reads every item of path, calling fn for each valid one; invalid lines
 * are counted in *rejected (the first one's reason in errstr). emb_dims as
 * for sr_item_decode_content. Returns 0, -1 when the file cannot be read
 * (errstr says why), or what fn returned. */
int sr_item_file_read(const char *path, size_t emb_dims, sr_item_file_fn *fn,
                      void *opaque, uint64_t *rejected, char *errstr,
                      size_t errlen);

/* The features of a MovieLens movie from its title ("Toy Story (1995)")
 * and genres (separated by '|'), appended to ct. Returns 0 or -1. */
int sr_item_movie_features(const char *title, size_t title_len,
                           const char *genres, size_t genres_len,
                           sr_item_content_t *ct);

#endif
