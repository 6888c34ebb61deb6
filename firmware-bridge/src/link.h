/*
 * The link between the unit and the rig: one serial frame (frame.h) per payload; the first payload byte says
 * what it is. Every request carries a sequence number; every request but HANG gets exactly one response with
 * that number, so a host can run the unit in lockstep. Documented in ../README.md and mirrored by
 * src/runtime/firmware/protocol.ts.
 */
#ifndef FW_LINK_H
#define FW_LINK_H
#include <stdint.h>
#include "voter.h"
#include "wire.h"

/* Rig -> unit. */
#define FW_REQ_DELIVER 0x01u /* seq uvar, time f64, network message bytes (the rest) */
#define FW_REQ_TICK 0x02u    /* seq uvar, time f64, frame uvar: frame's deadline timer fired at time */
#define FW_REQ_STATUS 0x03u  /* seq uvar */
#define FW_REQ_PING 0x04u    /* seq uvar */
#define FW_REQ_REKEY 0x05u   /* seq uvar, channel index u8, generation uvar, handover u8, sealed 32, tag 32 (rekey.h) */
#define FW_REQ_HANG 0x7Eu    /* seq uvar: test builds only; never answered */

/* Unit -> rig. */
#define FW_RSP_BOOT 0x80u   /* provision status u8, reset cause u8, boot count uvar, epoch uvar, heartbeat */
#define FW_RSP_OFFER 0x81u  /* seq, code u8, ready u8, events, judgments u8, decision? */
#define FW_RSP_TICK 0x82u   /* seq, decision? */
#define FW_RSP_STATUS 0x83u /* seq, counters (see fw_link_write_status) */
#define FW_RSP_PONG 0x84u   /* seq, heartbeat message */
#define FW_RSP_REKEYED 0x86u /* seq, channel u8, generation uvar, until uvar: the new key in use (rekey.h) */
#define FW_RSP_JUDGMENT 0x85u /* seq, judgment: one per frame fixed while handling request seq, before its response */
#define FW_RSP_ERROR 0x8Fu  /* seq (0 when unreadable), error u8 */

/* Offer codes: voter statuses 0..5 (fw_offer_status), host checks, then 32 + fw_decode_status. */
#define FW_CODE_UNKNOWN_CHANNEL 16u
#define FW_CODE_BAD_MAC 17u
#define FW_CODE_MALFORMED 18u
#define FW_CODE_BEFORE_RESET 19u /* rejoin.h: a frame from before the unit restarted */
#define FW_CODE_DECODE_BASE 32u
#define FW_CODE_COUNT 48u

/* Errors. */
#define FW_ERR_UNKNOWN_REQUEST 1u
#define FW_ERR_MALFORMED_REQUEST 2u
#define FW_ERR_NOT_PROVISIONED 3u
#define FW_ERR_REKEY_BAD_TAG 4u
#define FW_ERR_REKEY_STALE 5u
#define FW_ERR_REKEY_NO_EPOCH 6u

void fw_link_write_events(fw_writer *w, const fw_events *ev);
/* frame, time f64, reference? (u8, then discrete uvars, analog f64s), judged u8, agreed, dissenters, events. */
void fw_link_write_judgment(fw_writer *w, const fw_voter *v, const fw_judgment *j);
/* decision present u8, then the record (or just 0). */
void fw_link_write_decision(fw_writer *w, const fw_voter *v, const fw_decision *d);

#endif
