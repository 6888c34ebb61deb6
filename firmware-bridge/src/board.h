/*
 * The actuator interface unit: link bytes in, one response per request out, the actuator command out on every
 * decision. A platform main loop feeds it received bytes and strokes the watchdog between calls; nothing here
 * blocks or allocates.
 */
#ifndef FW_BOARD_H
#define FW_BOARD_H
#include <stddef.h>
#include <stdint.h>
#include "frame.h"
#include "link.h"
#include "provision.h"
#include "rejoin.h"
#include "rekey.h"
#include "voter.h"

#define FW_ROLE_VOTER 2u /* index of 'voter' in src/runtime/config.ts role enum */
#define FW_RESET_POWER_ON 0u
#define FW_RESET_WATCHDOG 1u

typedef struct {
  fw_deframer deframer;
  fw_provision prov;
  uint8_t prov_status;
  fw_voter voter;
  fw_rekey_state rekey;
  fw_rejoin rejoin;
  uint32_t boot_count;
  uint32_t epoch; /* nvm.h; 0: none */
  uint8_t reset_cause;
  uint32_t codes[FW_CODE_COUNT];
  uint32_t link_errors;
  uint32_t declined;
  /* Cycle statistics over DELIVER and TICK handling, in fw_port_ticks units. */
  uint64_t work_ticks;
  uint32_t work_max_ticks;
  uint32_t work_requests;
  /* While a request is handled: its sequence number (for JUDGMENT frames) and the ticks spent sending them. */
  uint64_t current_seq;
  uint32_t io_ticks;
  uint8_t out[FW_MAX_LINK_PAYLOAD];
  uint8_t side[FW_MAX_LINK_PAYLOAD]; /* a JUDGMENT, built while `out` holds the response */
  uint8_t wire[FW_FRAME_MAX(FW_MAX_LINK_PAYLOAD)];
} fw_board;

/*
 * Parse the provisioning record, reset the voter and send BOOT. provision may be NULL (unprovisioned). epoch:
 * this boot's, from fw_nvm_advance (0: none). A watchdog reset, or a power-on after an earlier boot (epoch above
 * 1), arms the rejoin floor (rejoin.h).
 */
void fw_board_init(fw_board *b, const uint8_t *provision, size_t provision_n, uint32_t boot_count,
                   uint8_t reset_cause, uint32_t epoch);
/*
 * The watchdog timeout the platform programs, ms from the last stroke to the reset: failsafeAfterMisses x
 * period / 2 of the provisioned timing (ms), so that a hung unit is reset, and has rejoined, before the frames
 * it leaves without a command reach failsafeAfterMisses; clamped to FW_WATCHDOG_MIN_MS..FW_WATCHDOG_MAX_MS;
 * FW_WATCHDOG_MAX_MS when unprovisioned.
 */
uint32_t fw_board_watchdog_ms(const fw_board *b);
/* One received byte; handles the request it completes, if any. */
void fw_board_feed(fw_board *b, uint8_t byte);

#endif
