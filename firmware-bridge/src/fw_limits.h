/*
 * Compile-time bounds of the actuator interface unit. Every buffer and loop in the firmware is sized from
 * these; the provisioning record is rejected when it asks for more.
 */
#ifndef FW_LIMITS_H
#define FW_LIMITS_H

/* Channels voted (m). Channel sets are sent as index lists and masks fit in 8 bits. */
#define FW_MAX_CHANNELS 8u
/* Analog (mid-value select) and discrete (exact majority) fields per command. */
#define FW_MAX_ANALOG 4u
#define FW_MAX_DISCRETE 4u
/* Frames buffered ahead of the next frame to decide (VoterConfig.maxFramesAhead). */
#define FW_MAX_AHEAD 8u
/* Frames behind the next one whose OUTPUT receipts are kept (VoterConfig.receiptWindow; its default is 64). */
#define FW_MAX_RECEIPT_WINDOW 64u
/* Decode limits shared with src/core/codec/limits.ts DEFAULT_LIMITS (maxOutputFields, maxTagBytes). */
#define FW_MAX_OUTPUT_FIELDS 16u
#define FW_MAX_TAG_BYTES 32u
/* MAC tag length bounds (src/core/crypto/mac.ts MIN_TAG_LENGTH / MAX_TAG_LENGTH). */
#define FW_MIN_TAG_LENGTH 8u
#define FW_MAX_TAG_LENGTH 32u
/* Largest network message the unit accepts (a maximal OUTPUT is 315 bytes). */
#define FW_MAX_MESSAGE_BYTES 512u
/* Largest link payload in either direction (a DELIVER is 1 + 9 + 8 + message). */
#define FW_MAX_LINK_PAYLOAD 560u
/* Provisioning record. */
#define FW_MAX_PROVISION_BYTES 1024u
#define FW_KEY_BYTES 32u
/* Events one decision can produce: a strike and a latch per channel. */
#define FW_MAX_EVENTS (2u * FW_MAX_CHANNELS)

/*
 * Watchdog (time from the last stroke of the frame loop to the reset): half of failsafeAfterMisses frame
 * periods of the provisioned timing (README "A hang, frame by frame"), within these bounds, in ms; an
 * unprovisioned unit, which decides nothing, uses the maximum. The minimum is five of the Cortex-M3's 10 ms
 * SysTick periods: an idle unit strokes only when SysTick wakes it, and a 10 ms watchdog (its NMI at 5 ms) reset
 * an idle unit now and then (measured, m4-exact corpus under QEMU).
 */
#define FW_WATCHDOG_MIN_MS 50u
#define FW_WATCHDOG_MAX_MS 2000u

#endif
