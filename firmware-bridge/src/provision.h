/*
 * The provisioning record: what a real unit holds in flash (voter configuration and MAC keys), written by
 * src/runtime/firmware/provision.ts. The host build reads it from a file; the Cortex-M build finds it at
 * FW_PROVISION_ADDR, where QEMU's generic loader puts it (and puts it back at every reset).
 *
 *   "TPXV" | version u8 = 1 | self principal uvar | f uvar | m uvar | m x channel wire id uvar
 *   | analog_n uvar | analog_n x (tolerance f64, has early band u8 (0/1), [early band f64])
 *   | discrete_n uvar | discrete_n x cardinality uvar (1..256)
 *   | strikeThreshold uvar (1..255) | strikeDecayFrames uvar | probationFrames uvar | failsafeAfterMisses uvar
 *   | failsafe: discrete_n x uvar, analog_n x f64 | initial: the same
 *   | origin f64 | period f64 | deadline f64 | firstFrame uvar | maxFramesAhead uvar | receiptWindow uvar
 *   | tagLength uvar (8..32) | m x 32-byte channel key | 32-byte heartbeat key
 *   | CRC-32C of everything before, u32 little-endian
 *
 * Integers are the codec's minimal varints, floats big-endian binary64 (src/core/codec/wire.ts).
 */
#ifndef FW_PROVISION_H
#define FW_PROVISION_H
#include <stddef.h>
#include <stdint.h>
#include "fw_limits.h"
#include "hmac.h"
#include "voter.h"

typedef struct {
  uint64_t self_principal;
  fw_voter_config voter;
  uint64_t channel_id[FW_MAX_CHANNELS];
  uint16_t cardinality[FW_MAX_DISCRETE];
  uint8_t tag_length;
  fw_hmac_key channel_key[FW_MAX_CHANNELS];
  fw_hmac_key heartbeat_key;
} fw_provision;

typedef enum {
  FW_PROV_OK = 0,
  FW_PROV_TOO_SHORT = 1,
  FW_PROV_BAD_MAGIC = 2,
  FW_PROV_BAD_CRC = 3,
  FW_PROV_BAD_VERSION = 4,
  FW_PROV_MALFORMED = 5,
  FW_PROV_OUT_OF_BOUNDS = 6,
  FW_PROV_BAD_CONFIG = 7,
  FW_PROV_DUPLICATE_CHANNEL = 8,
  FW_PROV_MISSING = 9
} fw_provision_status;

/* Parse and check a record of at most FW_MAX_PROVISION_BYTES; *out is valid only on FW_PROV_OK. */
fw_provision_status fw_provision_parse(const uint8_t *bytes, size_t n, fw_provision *out);

/* Index of the channel with this wire id, or -1. */
int fw_provision_channel_index(const fw_provision *p, uint64_t id);

#endif
