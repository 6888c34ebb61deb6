/*
 * REKEY: the rig replaces one channel's pairwise MAC key over the link, when that channel (or the voter's own
 * principal) took fresh session keys at a proactive restart (src/runtime/recovery). The unit never derives
 * keys itself (no X25519 here): the rig, which holds the session keys, seals the new 32-byte key for it.
 *
 * Authenticated and sealed under two keys derived from the heartbeat key (the secret the unit and the rig share,
 * provisioned in flash): enc = HMAC(heartbeat, "triplex/fw-rekey/enc"), mac = HMAC(heartbeat,
 * "triplex/fw-rekey/mac"). With epoch = the unit's boot epoch (nvm.h, u32 LE), boot = its boot count (u32 LE),
 * generation as u64 LE:
 *
 *   sealed = key XOR HMAC(enc, epoch || boot || channel u8 || generation)      (a one-time pad from a PRF)
 *   tag    = HMAC(mac, type || channel u8 || generation uvar || handover u8 || sealed || epoch || boot)
 *            (32 bytes, compared in constant time)
 *
 * Accepted only if the unit has an epoch, the tag verifies and the generation is above the channel's current
 * one (0: the flash key), so a REKEY cannot be replayed within a boot, nor across a watchdog reset or a power
 * cycle: every boot advances the epoch in NVM, and the RAM boot count alone starts at 0 again on power-on.
 * After a restart the unit is back on its flash keys and the rig sends the current ones again, sealed for the
 * epoch the unit announced in its BOOT. Without an epoch (no NVM, or it failed) every REKEY is refused: a
 * replay could not be told from a fresh one.
 *
 * handover 1: the voter's own proactive restart (its principal took fresh keys), made before break as the
 * TypeScript VoterHost's: the channel's previous key still verifies OUTPUTs for frames before `until` = the
 * unit's next frame to decide + 1 (the frame open now and any before it), until the unit has decided frame
 * until - 1; the channels tag those with the old key, in flight when the keys changed. handover 0 (a channel's
 * own restart, or the keys again after a reset): the previous key is gone at once.
 */
#ifndef FW_REKEY_H
#define FW_REKEY_H
#include <stddef.h>
#include <stdint.h>
#include "fw_limits.h"
#include "hmac.h"
#include "provision.h"

#define FW_REKEY_TAG_BYTES 32u

typedef struct {
  fw_hmac_key enc;
  fw_hmac_key mac;
  uint64_t generation[FW_MAX_CHANNELS];
  /* The key before the last handover REKEY, valid for frames below until (0: none). */
  fw_hmac_key previous[FW_MAX_CHANNELS];
  uint64_t previous_until[FW_MAX_CHANNELS];
  uint32_t outcomes[5]; /* requests per fw_rekey_status */
} fw_rekey_state;

typedef enum {
  FW_REKEY_OK = 0,
  FW_REKEY_MALFORMED = 1,
  FW_REKEY_BAD_TAG = 2,
  FW_REKEY_STALE = 3,
  FW_REKEY_NO_EPOCH = 4
} fw_rekey_status;

/* Derive the sealing keys from the provisioned heartbeat key; every channel at generation 0. */
void fw_rekey_init(fw_rekey_state *s, const fw_provision *p);

/*
 * A REKEY request body: `request` is the whole request payload (type, seq, ...), `body` the offset after seq;
 * next_frame: the voter's next frame to decide. On FW_REKEY_OK the channel's key in *p is replaced and
 * *channel, *generation, *until say which (until 0: no handover).
 */
fw_rekey_status fw_rekey_apply(fw_rekey_state *s, fw_provision *p, const uint8_t *request, size_t n,
                               size_t body, uint32_t epoch, uint32_t boot_count, uint64_t next_frame,
                               uint8_t *channel, uint64_t *generation, uint64_t *until);
/* Whether channel c's previous key still verifies an OUTPUT for `frame` while the voter's next frame is next. */
int fw_rekey_previous_valid(const fw_rekey_state *s, uint8_t c, uint64_t frame, uint64_t next_frame);

#endif
