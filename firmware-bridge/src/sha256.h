/* SHA-256 (FIPS 180-4). Streaming; no allocation. */
#ifndef FW_SHA256_H
#define FW_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define FW_SHA256_BYTES 32u
#define FW_SHA256_BLOCK 64u

typedef struct {
  uint32_t h[8];
  uint8_t block[FW_SHA256_BLOCK];
  size_t fill;
  uint64_t total;
} fw_sha256_ctx;

void fw_sha256_init(fw_sha256_ctx *s);
void fw_sha256_update(fw_sha256_ctx *s, const uint8_t *data, size_t n);
void fw_sha256_final(fw_sha256_ctx *s, uint8_t out[FW_SHA256_BYTES]);
void fw_sha256(const uint8_t *data, size_t n, uint8_t out[FW_SHA256_BYTES]);

#endif
