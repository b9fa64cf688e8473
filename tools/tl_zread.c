/*
 * tl_zread.c - a plain, gzip or zstd file read as bytes (tl_zread.h).
 *
 * gzip goes through zlib's gzFile (which owns the descriptor once opened);
 * zstd through a streaming context fed from a buffer of
 * ZSTD_DStreamInSize() compressed bytes. The progress counts input bytes
 * consumed: gzoffset() for gzip, the bytes read from the descriptor
 * otherwise. One thread per reader.
 */
#include "tl_zread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "cm_compiler.h"

#define GZ_BUFFER_BYTES (256u << 10)

enum kind {
	KIND_PLAIN,
	KIND_GZ,
	KIND_ZSTD,
};

struct tl_zread {
	enum kind kind;
	const char *name;       /* the path, or "stdin" (kept: the caller's string) */
	int fd;                 /* -1 once a gzFile owns it */
	gzFile gz;
	ZSTD_DCtx *zd;
	char *zbuf;             /* compressed bytes read, not yet decompressed */
	ZSTD_inBuffer zin;
	size_t zlast;           /* ZSTD_decompressStream's last hint: 0 at a frame's end */
	uint64_t pos;           /* input bytes consumed (compressed bytes for .gz and .zst) */
	uint64_t size;          /* the file's size; 0: unknown (a pipe) */
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

int tl_zread_open(const char *path, struct tl_zread **out, char *err, size_t errlen)
{
	assert(path && out);
	bool is_stdin = strcmp(path, "-") == 0;
	struct tl_zread *z = calloc(1, sizeof(*z));
	int rc = -ENOMEM;
	if (!z)
		goto err;
	z->name = is_stdin ? "stdin" : path;
	z->fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (z->fd < 0) {
		rc = -errno;
		goto err_free;
	}
	struct stat st;
	if (fstat(z->fd, &st) == 0 && S_ISREG(st.st_mode))
		z->size = (uint64_t)st.st_size;
	if (!is_stdin && ends_with(path, ".gz")) {
		z->kind = KIND_GZ;
		if (!(z->gz = gzdopen(z->fd, "rb")))
			goto err_free;
		z->fd = -1;     /* the gzFile owns it */
		gzbuffer(z->gz, GZ_BUFFER_BYTES);
	} else if (!is_stdin && ends_with(path, ".zst")) {
		z->kind = KIND_ZSTD;
		z->zd = ZSTD_createDCtx();
		z->zbuf = malloc(ZSTD_DStreamInSize());
		if (!z->zd || !z->zbuf)
			goto err_free;
		z->zin = (ZSTD_inBuffer){z->zbuf, 0, 0};
	}
	*out = z;
	return 0;

err_free:
	tl_zread_close(z);
err:
	snprintf(err, errlen, "cannot open '%s': %s", path, strerror(-rc));
	*out = NULL;
	return rc;
}

void tl_zread_close(struct tl_zread *z)
{
	if (!z)
		return;
	if (z->gz)
		gzclose(z->gz);
	if (z->fd > STDIN_FILENO)
		close(z->fd);
	ZSTD_freeDCtx(z->zd);
	free(z->zbuf);
	free(z);
}

static ssize_t read_fd(struct tl_zread *z, char *buf, size_t cap, char *err, size_t errlen)
{
	ssize_t n;
	while ((n = read(z->fd, buf, cap)) < 0 && errno == EINTR)
		;
	if (n < 0)
		snprintf(err, errlen, "read %s: %s", z->name, strerror(errno));
	else
		z->pos += (uint64_t)n;
	return n < 0 ? -1 : n;
}

static ssize_t read_gz(struct tl_zread *z, char *buf, size_t cap, char *err, size_t errlen)
{
	int n = gzread(z->gz, buf, (unsigned)CM_MIN(cap, (size_t)INT32_MAX)), zerr = Z_OK;
	const char *msg = gzerror(z->gz, &zerr);
	z->pos = (uint64_t)gzoffset(z->gz);
	if (n > 0 && gzdirect(z->gz)) {   /* zlib passes other data through as it is */
		snprintf(err, errlen, "%s: not a gzip file", z->name);
		return -1;
	}
	if (n < 0 || (n == 0 && zerr != Z_OK)) {
		snprintf(err, errlen, "%s: %s", z->name,
			 zerr == Z_BUF_ERROR ? "truncated gzip file" : msg);
		return -1;
	}
	return n;
}

static ssize_t read_zstd(struct tl_zread *z, char *buf, size_t cap, char *err, size_t errlen)
{
	ZSTD_outBuffer out = {buf, cap, 0};
	while (out.pos == 0) {
		if (z->zin.pos == z->zin.size) {
			ssize_t n = read_fd(z, z->zbuf, ZSTD_DStreamInSize(), err, errlen);
			if (n < 0)
				return -1;
			if (n == 0 && z->zlast != 0) {
				snprintf(err, errlen, "%s: truncated zstd file", z->name);
				return -1;
			}
			if (n == 0)
				return 0;
			z->zin = (ZSTD_inBuffer){z->zbuf, (size_t)n, 0};
		}
		z->zlast = ZSTD_decompressStream(z->zd, &out, &z->zin);
		if (ZSTD_isError(z->zlast)) {
			snprintf(err, errlen, "%s: %s", z->name, ZSTD_getErrorName(z->zlast));
			return -1;
		}
	}
	return (ssize_t)out.pos;
}

ssize_t tl_zread_read(struct tl_zread *z, char *buf, size_t cap, char *err, size_t errlen)
{
	assert(z && buf && cap > 0);
	switch (z->kind) {
	case KIND_GZ: return read_gz(z, buf, cap, err, errlen);
	case KIND_ZSTD: return read_zstd(z, buf, cap, err, errlen);
	case KIND_PLAIN: break;
	}
	return read_fd(z, buf, cap, err, errlen);
}

double tl_zread_fraction(const struct tl_zread *z)
{
	return z->size ? CM_MIN((double)z->pos / (double)z->size, 1.0) : -1;
}
