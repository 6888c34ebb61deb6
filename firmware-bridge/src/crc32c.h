/* CRC-32C (Castagnoli, reflected 0x82F63B78), as src/core/codec/framing/crc.ts. */
#ifndef FW_CRC32C_H
#define FW_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over bytes; start with 0. crc32c_update(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c_update(uint32_t crc, const uint8_t *bytes, size_t n);
uint32_t crc32c(const uint8_t *bytes, size_t n);
void fw_put_u32le(uint8_t *out, uint32_t v);
uint32_t fw_get_u32le(const uint8_t *in);

#endif
