/*
 * The boot epoch: a counter in non-volatile memory that every boot advances (power-on and watchdog reset
 * alike). REKEY binds it (rekey.h), so a REKEY recorded in an earlier power cycle, when the RAM boot count was
 * 0 again, cannot be replayed in a later one.
 *
 * Layout: two slots of FW_NVM_SLOT_BYTES, written alternately (epoch e goes to slot e mod 2), each
 * "TXE1" || epoch u32 LE || ~epoch u32 LE || CRC-32C of the 12 bytes before, u32 LE. A write cut short
 * leaves the other slot, one epoch older, valid. The boot's epoch is the highest valid one plus one, and is
 * used only once it has been written and read back (a boot that cannot persist its epoch takes none, so no
 * epoch is ever used twice). Epoch 0 means none: the unit then refuses every REKEY.
 *
 * Limit: NVM rolled back to an older image (a restored file, a reflashed part) replays epochs with it.
 */
#ifndef FW_NVM_H
#define FW_NVM_H
#include <stddef.h>
#include <stdint.h>

#define FW_NVM_SLOT_BYTES 16u
#define FW_NVM_BYTES (2u * FW_NVM_SLOT_BYTES)
#define FW_NVM_NO_EPOCH 0u

/* What a platform gives: read the whole area (1 on success; a fresh, empty store reads as all 0xFF or 0) and
 * write bytes at an offset durably (1 once on the medium). */
int fw_port_nvm_read(uint8_t *bytes, size_t n);
int fw_port_nvm_write(size_t offset, const uint8_t *bytes, size_t n);

/* Epoch stored in one slot, or FW_NVM_NO_EPOCH when the slot does not check. */
uint32_t fw_nvm_slot_epoch(const uint8_t *slot);
/* Advance the epoch for this boot: the new epoch, or FW_NVM_NO_EPOCH when the store failed or is exhausted. */
uint32_t fw_nvm_advance(void);

#endif
