#include "rekey.h"
#include "wire.h"

static void derive(fw_hmac_key *out, const fw_hmac_key *from, const char *label, size_t label_n) {
  uint8_t k[FW_SHA256_BYTES];
  fw_hmac(from, (const uint8_t *)label, label_n, k);
  fw_hmac_key_init(out, k, sizeof k);
  for (size_t i = 0; i < sizeof k; i++) k[i] = 0u;
}

void fw_rekey_init(fw_rekey_state *s, const fw_provision *p) {
  static const char enc[] = "triplex/fw-rekey/enc";
  static const char mac[] = "triplex/fw-rekey/mac";
  derive(&s->enc, &p->heartbeat_key, enc, sizeof enc - 1u);
  derive(&s->mac, &p->heartbeat_key, mac, sizeof mac - 1u);
  for (unsigned i = 0; i < FW_MAX_CHANNELS; i++) {
    s->generation[i] = 0u;
    s->previous_until[i] = 0u;
  }
  for (unsigned i = 0; i < 5u; i++) s->outcomes[i] = 0u;
}

static void put_u32(uint8_t *out, uint32_t x) {
  for (unsigned i = 0; i < 4u; i++) out[i] = (uint8_t)(x >> (8u * i));
}

static fw_rekey_status apply(fw_rekey_state *s, fw_provision *p, const uint8_t *request, size_t n, size_t body,
                             uint32_t epoch, uint32_t boot_count, uint64_t next_frame, uint8_t *channel,
                             uint64_t *generation, uint64_t *until) {
  /* channel u8, generation uvar, handover u8, sealed key, tag: all of it, nothing after. */
  fw_reader r;
  if (body > n) return FW_REKEY_MALFORMED;
  fw_reader_init(&r, request + body, n - body);
  const uint8_t c = fw_read_u8(&r);
  const uint64_t g = fw_read_uvar(&r);
  const uint8_t handover = fw_read_u8(&r);
  if (r.status != FW_DEC_OK || fw_reader_remaining(&r) != FW_KEY_BYTES + FW_REKEY_TAG_BYTES ||
      c >= p->voter.m || handover > 1u || next_frame >= FW_MAX_SAFE_INTEGER)
    return FW_REKEY_MALFORMED;
  const size_t signed_n = n - FW_REKEY_TAG_BYTES;
  const uint8_t *sealed = request + signed_n - FW_KEY_BYTES;
  const uint8_t *tag = request + signed_n;
  /*
   * The tag covers the type byte, the body up to the tag (channel, generation, handover, sealed key: at most
   * 1 + 10 + 1 + 32 bytes), the epoch and the boot count; not the sequence number, which orders requests and proves nothing.
   */
  uint8_t input[64];
  const size_t body_n = signed_n - body;
  if (n == 0u || body_n > sizeof input - 9u) return FW_REKEY_MALFORMED;
  if (epoch == 0u) return FW_REKEY_NO_EPOCH;
  input[0] = request[0];
  for (size_t i = 0; i < body_n; i++) input[1u + i] = request[body + i];
  put_u32(&input[1u + body_n], epoch);
  put_u32(&input[5u + body_n], boot_count);
  if (!fw_hmac_verify(&s->mac, input, body_n + 9u, tag, FW_REKEY_TAG_BYTES, FW_REKEY_TAG_BYTES))
    return FW_REKEY_BAD_TAG;
  if (g <= s->generation[c]) return FW_REKEY_STALE;
  uint8_t pad_in[17];
  uint8_t pad[FW_SHA256_BYTES];
  uint8_t key[FW_KEY_BYTES];
  put_u32(pad_in, epoch);
  put_u32(&pad_in[4], boot_count);
  pad_in[8] = c;
  for (unsigned i = 0; i < 8u; i++) pad_in[9u + i] = (uint8_t)(g >> (8u * i));
  fw_hmac(&s->enc, pad_in, sizeof pad_in, pad);
  for (size_t i = 0; i < FW_KEY_BYTES; i++) key[i] = (uint8_t)(sealed[i] ^ pad[i]);
  if (handover) s->previous[c] = p->channel_key[c];
  s->previous_until[c] = handover ? next_frame + 1u : 0u;
  fw_hmac_key_init(&p->channel_key[c], key, sizeof key);
  for (size_t i = 0; i < FW_KEY_BYTES; i++) key[i] = pad[i] = 0u;
  s->generation[c] = g;
  *channel = c;
  *generation = g;
  *until = s->previous_until[c];
  return FW_REKEY_OK;
}

fw_rekey_status fw_rekey_apply(fw_rekey_state *s, fw_provision *p, const uint8_t *request, size_t n,
                               size_t body, uint32_t epoch, uint32_t boot_count, uint64_t next_frame,
                               uint8_t *channel, uint64_t *generation, uint64_t *until) {
  const fw_rekey_status st =
      apply(s, p, request, n, body, epoch, boot_count, next_frame, channel, generation, until);
  s->outcomes[st]++;
  return st;
}

int fw_rekey_previous_valid(const fw_rekey_state *s, uint8_t c, uint64_t frame, uint64_t next_frame) {
  /* Until the frame before `until` is decided: the voter's next frame is then at or past it. */
  const uint64_t until = s->previous_until[c];
  return frame < until && next_frame < until;
}
