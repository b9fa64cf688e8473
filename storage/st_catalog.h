/*
 * st_catalog.h - a shard's series catalog: the file that maps shard-local
 * series ids to canonical keys and value types, so that blocks (which name
 * series by id) and the WAL (whose older segments are deleted) can be read
 * after a restart. Append-only; ids are dense and written in order.
 *
 * File: series.cat in the shard's directory, a sequence of frames, one per
 * checkpoint that added series:
 *
 *   u32 magic       0x46434653 ("SFCF")
 *   u32 crc         CRC32C of the rest of the header, then of the payload
 *   u32 first_id    the previous frame's first_id + count (first frame: 0)
 *   u32 count       series in the frame
 *   u32 stored_len  payload bytes that follow (a zstd frame)
 *   u32 raw_len     payload bytes once decompressed
 *   payload, zero padding to a multiple of 4
 *
 * The raw payload is count records, each: u32 id (first_id, first_id + 1,
 * ...), u8 vtype, u8 zero, u16 keylen, keylen key bytes, zero padding to a
 * multiple of 4. Keys of one measurement share most of their bytes, so zstd
 * shrinks the catalog about tenfold (a TSBS series key is ~200 bytes).
 *
 * A torn tail (a crash during an append) is cut at load; appends are made
 * durable (fdatasync) before the checkpoint that relies on them is written.
 *
 * Threads: one thread at a time (recovery, then the flusher).
 */
#ifndef ST_CATALOG_H
#define ST_CATALOG_H

#include <stdint.h>

#include "st_io.h"

struct st_catalog;

/* Per loaded series: return 0, or -errno to stop the load. */
typedef int (*st_catalog_fn)(void *ctx, uint32_t id, uint8_t vtype, const uint8_t *key,
			     uint16_t keylen);

/*
 * Open (create if missing) path and call fn for each series in id order. A
 * torn or corrupt tail is truncated, logged and counted in *dropped_bytes.
 * ops kept. 0 or -errno.
 */
int st_catalog_open(const char *path, const struct st_io_ops *ops, st_catalog_fn fn, void *ctx,
		    struct st_catalog **out, uint64_t *dropped_bytes);
void st_catalog_close(struct st_catalog *c);   /* NULL ok */

/* Series stored so far (the next id to append). */
uint32_t st_catalog_count(const struct st_catalog *c);

/* Append series id (must be st_catalog_count()); buffered until st_catalog_sync. */
int st_catalog_append(struct st_catalog *c, uint32_t id, uint8_t vtype, const uint8_t *key,
		      uint16_t keylen);
/* Write and fdatasync what was appended. 0 or -errno (then nothing counts as stored). */
int st_catalog_sync(struct st_catalog *c);

#endif /* ST_CATALOG_H */
