/*
 * tl_zread.h - a file read as a stream of bytes, decompressed by its name:
 * gzip for ".gz", zstd for ".zst", anything else (and "-", stdin) as it is.
 * `sfctl import` reads line protocol through it. zlib passes data that is
 * not gzip through as it is: here that is an error, so a misnamed file is
 * not imported as garbage. A file that ends inside a gzip member or a zstd
 * frame is an error ("truncated"), after the bytes before it were returned.
 *
 * Usage profile: one file start to end, about a megabyte per read, files of
 * millions of lines. One thread per reader. Links zlib and libzstd only.
 */
#ifndef TL_ZREAD_H
#define TL_ZREAD_H

#include <stddef.h>
#include <sys/types.h>

struct tl_zread;

/*
 * Open path ("-": stdin, never decompressed). Returns 0 with *out set
 * (owned: tl_zread_close), or -errno with "cannot open '<path>': <why>" in err.
 */
int tl_zread_open(const char *path, struct tl_zread **out, char *err, size_t errlen);

/*
 * Up to cap decompressed bytes into buf (borrowed): the count, 0 at the end
 * of the input, or -1 with the reason in err ("<name>: truncated gzip
 * file", "read <name>: <why>", ...; name is the path, or "stdin").
 */
ssize_t tl_zread_read(struct tl_zread *z, char *buf, size_t cap, char *err, size_t errlen);

/*
 * How much of the input has been read, in [0, 1] (compressed bytes for .gz
 * and .zst), or -1 when the size is unknown (a pipe).
 */
double tl_zread_fraction(const struct tl_zread *z);

/* Close the file (not stdin) and free z. NULL is fine. */
void tl_zread_close(struct tl_zread *z);

#endif /* TL_ZREAD_H */
