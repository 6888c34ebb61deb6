/*
 * Serial link framing, byte for byte as src/core/codec/framing/serial-frame.ts:
 *
 *     0x00  COBS(payload || CRC-32C(payload) little-endian)  0x00
 *
 * The deframer buffers at most one maximal encoded frame; a longer run without a delimiter is discarded and
 * counted once, so memory stays bounded whatever arrives. It never fails on input bytes.
 */
#ifndef FW_FRAME_H
#define FW_FRAME_H
#include <stddef.h>
#include <stdint.h>
#include "fw_limits.h"

#define FW_CRC_BYTES 4u
/* cobsMaxEncodedLength(n) = n + 1 + n / 254 */
#define FW_COBS_MAX(n) ((n) + 1u + (n) / 254u)
/* Bytes on the wire for a payload of n bytes, both delimiters included (serialFrameLength). */
#define FW_FRAME_MAX(n) (FW_COBS_MAX((n) + FW_CRC_BYTES) + 2u)

/* COBS-encode payload[0, n) into out (room for FW_COBS_MAX(n)); returns bytes written. */
size_t fw_cobs_encode(const uint8_t *payload, size_t n, uint8_t *out);

typedef enum { FW_COBS_OK = 0, FW_COBS_EMPTY, FW_COBS_ZERO_BYTE, FW_COBS_OVERRUN } fw_cobs_status;

/* Decode one COBS block in place-safe fashion (out may not alias in); *out_n gets the decoded length. */
fw_cobs_status fw_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t *out_n);

/* Encode payload[0, n) (1 <= n <= FW_MAX_LINK_PAYLOAD) as a complete frame; returns its length, 0 if n is bad. */
size_t fw_frame_encode(const uint8_t *payload, size_t n, uint8_t *out, size_t out_cap);

typedef enum { FW_DEFRAME_COBS = 0, FW_DEFRAME_CRC, FW_DEFRAME_TOO_LONG, FW_DEFRAME_EMPTY, FW_DEFRAME_REASONS } fw_deframe_reason;

typedef struct {
  uint8_t buffer[FW_COBS_MAX(FW_MAX_LINK_PAYLOAD + FW_CRC_BYTES)];
  uint8_t decoded[FW_COBS_MAX(FW_MAX_LINK_PAYLOAD + FW_CRC_BYTES)];
  size_t length;
  int discarding;
  uint32_t rejected[FW_DEFRAME_REASONS];
  uint32_t accepted;
} fw_deframer;

void fw_deframer_init(fw_deframer *d);

/*
 * Feed one byte. Returns the payload length when this byte (a delimiter) completes a verified frame, with the
 * payload at d->decoded; returns 0 otherwise (idle fill, a byte inside a frame, or a counted rejection).
 */
size_t fw_deframer_push(fw_deframer *d, uint8_t byte);

#endif
