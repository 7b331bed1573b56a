/* CRC32C (Castagnoli), the checksum of checkpoint files. Uses the SSE4.2
 * instruction when the CPU has it, else a portable table. Any thread: the
 * tables are built once on first use. */
#ifndef SR_UTIL_CRC32C_H
#define SR_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC32C of data, continuing from crc (start with 0). */
uint32_t sr_crc32c(uint32_t crc, const void *data, size_t len);

/* sr_crc32c computed by the portable table code even where the CPU has a
 * CRC32C instruction; for tests that both paths agree. */
uint32_t sr_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* 1 when sr_crc32c uses the SSE4.2 instruction, else 0. */
int sr_crc32c_hw_available(void);

#endif
