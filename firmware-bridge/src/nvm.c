#include "nvm.h"
#include "crc32c.h"

#define NVM_MAGIC 0x31455854u /* "TXE1" little-endian */

uint32_t fw_nvm_slot_epoch(const uint8_t *slot) {
  const uint32_t e = fw_get_u32le(&slot[4]);
  if (fw_get_u32le(&slot[0]) != NVM_MAGIC || fw_get_u32le(&slot[8]) != (uint32_t)~e ||
      fw_get_u32le(&slot[12]) != crc32c(slot, 12u))
    return FW_NVM_NO_EPOCH;
  return e;
}

uint32_t fw_nvm_advance(void) {
  uint8_t area[FW_NVM_BYTES];
  uint8_t slot[FW_NVM_SLOT_BYTES];
  if (!fw_port_nvm_read(area, sizeof area)) return FW_NVM_NO_EPOCH;
  uint32_t last = 0;
  for (unsigned i = 0; i < 2u; i++) {
    const uint32_t e = fw_nvm_slot_epoch(&area[i * FW_NVM_SLOT_BYTES]);
    if (e > last) last = e;
  }
  if (last == UINT32_MAX) return FW_NVM_NO_EPOCH; /* exhausted: never wrap to an epoch used before */
  const uint32_t next = last + 1u;
  const size_t at = (size_t)(next & 1u) * FW_NVM_SLOT_BYTES;
  fw_put_u32le(&slot[0], NVM_MAGIC);
  fw_put_u32le(&slot[4], next);
  fw_put_u32le(&slot[8], ~next);
  fw_put_u32le(&slot[12], crc32c(slot, 12u));
  if (!fw_port_nvm_write(at, slot, sizeof slot)) return FW_NVM_NO_EPOCH;
  if (!fw_port_nvm_read(area, sizeof area) || fw_nvm_slot_epoch(&area[at]) != next) return FW_NVM_NO_EPOCH;
  return next;
}
