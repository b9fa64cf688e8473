/*
 * cm_crc32c.h - CRC32C (Castagnoli), the checksum of every WAL record and
 * block section. It comes from ISA-L (crc32_iscsi: SSE4.2/PCLMUL, several
 * GB/s), already on every DPDK machine; docs/DEPENDENCIES.md says why.
 *
 * cm_crc32c(0, buf, len) is the standard CRC32C ("123456789" -> 0xe3069283);
 * pass a previous result as crc to continue over more bytes. Any thread.
 */
#ifndef CM_CRC32C_H
#define CM_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#include <isa-l/crc.h>

static inline uint32_t cm_crc32c(uint32_t crc, const void *buf, size_t len)
{
	/* ISA-L takes and returns the register without the final inversion */
	return ~crc32_iscsi((unsigned char *)(uintptr_t)buf, (int)len, ~crc);
}

#endif /* CM_CRC32C_H */
