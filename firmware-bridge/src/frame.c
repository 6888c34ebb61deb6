#include "frame.h"
#include "crc32c.h"

size_t fw_cobs_encode(const uint8_t *payload, size_t n, uint8_t *out) {
  size_t code_at = 0;
  size_t w = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < n; i++) {
    const uint8_t b = payload[i];
    if (b == 0u) {
      out[code_at] = code;
      code_at = w++;
      code = 1;
      continue;
    }
    out[w++] = b;
    code++;
    if (code == 0xFFu) {
      out[code_at] = code;
      code_at = w++;
      code = 1;
    }
  }
  out[code_at] = code;
  return w;
}

fw_cobs_status fw_cobs_decode(const uint8_t *in, size_t n, uint8_t *out, size_t *out_n) {
  size_t w = 0;
  size_t r = 0;
  *out_n = 0;
  if (n == 0u) return FW_COBS_EMPTY;
  /* Each pass consumes at least one byte (code >= 1), so the loop runs at most n times. */
  while (r < n) {
    const uint8_t code = in[r];
    if (code == 0u) return FW_COBS_ZERO_BYTE;
    const size_t block_end = r + code;
    if (block_end > n) return FW_COBS_OVERRUN;
    for (size_t i = r + 1u; i < block_end; i++) {
      if (in[i] == 0u) return FW_COBS_ZERO_BYTE;
      out[w++] = in[i];
    }
    r = block_end;
    /* A code below 0xFF marks an implicit zero, except at the very end of the block. */
    if (code != 0xFFu && r < n) out[w++] = 0u;
  }
  *out_n = w;
  return FW_COBS_OK;
}

size_t fw_frame_encode(const uint8_t *payload, size_t n, uint8_t *out, size_t out_cap) {
  /* Static, not on the stack (564 bytes): the unit frames one payload at a time, never from an interrupt. */
  static uint8_t body[FW_MAX_LINK_PAYLOAD + FW_CRC_BYTES];
  if (n == 0u || n > FW_MAX_LINK_PAYLOAD || out_cap < FW_FRAME_MAX(n)) return 0;
  for (size_t i = 0; i < n; i++) body[i] = payload[i];
  fw_put_u32le(&body[n], crc32c(payload, n));
  out[0] = 0u;
  const size_t k = fw_cobs_encode(body, n + FW_CRC_BYTES, &out[1]);
  out[1u + k] = 0u;
  return k + 2u;
}

void fw_deframer_init(fw_deframer *d) {
  d->length = 0;
  d->discarding = 0;
  for (unsigned i = 0; i < (unsigned)FW_DEFRAME_REASONS; i++) d->rejected[i] = 0;
  d->accepted = 0;
}

static size_t verify(fw_deframer *d, size_t length) {
  size_t body_n = 0;
  if (fw_cobs_decode(d->buffer, length, d->decoded, &body_n) != FW_COBS_OK) {
    d->rejected[FW_DEFRAME_COBS]++;
    return 0;
  }
  if (body_n <= FW_CRC_BYTES) {
    d->rejected[FW_DEFRAME_EMPTY]++;
    return 0;
  }
  const size_t payload_n = body_n - FW_CRC_BYTES;
  if (payload_n > FW_MAX_LINK_PAYLOAD) {
    d->rejected[FW_DEFRAME_TOO_LONG]++;
    return 0;
  }
  if (crc32c(d->decoded, payload_n) != fw_get_u32le(&d->decoded[payload_n])) {
    d->rejected[FW_DEFRAME_CRC]++;
    return 0;
  }
  d->accepted++;
  return payload_n;
}

size_t fw_deframer_push(fw_deframer *d, uint8_t byte) {
  if (byte != 0u) {
    if (d->discarding) return 0;
    if (d->length >= sizeof d->buffer) {
      /* Count once per overlong run, then skip to the next delimiter without buffering. */
      d->rejected[FW_DEFRAME_TOO_LONG]++;
      d->discarding = 1;
      d->length = 0;
      return 0;
    }
    d->buffer[d->length++] = byte;
    return 0;
  }
  const int was_discarding = d->discarding;
  const size_t length = d->length;
  d->discarding = 0;
  d->length = 0;
  if (was_discarding || length == 0u) return 0; /* overlong run already counted; or idle fill */
  return verify(d, length);
}
