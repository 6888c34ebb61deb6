/* Table-driven CRC-32C, one 1 KiB table in flash (slicing-by-4 would cost 4 KiB for little gain here). */
#include "crc32c.h"

static uint32_t table_entry(uint32_t b) {
  uint32_t c = b;
  for (unsigned k = 0; k < 8u; k++) c = (c & 1u) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  return c;
}

/* Built on first use: static storage, no allocation, 256 bounded iterations. */
static uint32_t table[256];
static int table_ready = 0;

static void build_table(void) {
  for (uint32_t b = 0; b < 256u; b++) table[b] = table_entry(b);
  table_ready = 1;
}

uint32_t crc32c_update(uint32_t crc, const uint8_t *bytes, size_t n) {
  if (!table_ready) build_table();
  uint32_t c = ~crc;
  for (size_t i = 0; i < n; i++) c = table[(c ^ bytes[i]) & 0xFFu] ^ (c >> 8);
  return ~c;
}

uint32_t crc32c(const uint8_t *bytes, size_t n) { return crc32c_update(0u, bytes, n); }

void fw_put_u32le(uint8_t *out, uint32_t v) {
  out[0] = (uint8_t)(v & 0xFFu);
  out[1] = (uint8_t)((v >> 8) & 0xFFu);
  out[2] = (uint8_t)((v >> 16) & 0xFFu);
  out[3] = (uint8_t)((v >> 24) & 0xFFu);
}

uint32_t fw_get_u32le(const uint8_t *in) {
  return (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
}
