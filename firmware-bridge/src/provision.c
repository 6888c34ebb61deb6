#include "provision.h"
#include "crc32c.h"
#include "wire.h"

static uint64_t bounded(fw_reader *r, uint64_t lo, uint64_t hi, int *bad) {
  const uint64_t v = fw_read_uvar(r);
  if (r->status == FW_DEC_OK && (v < lo || v > hi)) *bad = 1;
  return v;
}

static void read_command(fw_reader *r, const fw_provision *p, fw_command *c, int *bad) {
  for (unsigned i = 0; i < p->voter.discrete_n; i++) {
    c->discrete[i] = (uint8_t)bounded(r, 0, (uint64_t)p->cardinality[i] - 1u, bad);
  }
  for (unsigned i = 0; i < p->voter.analog_n; i++) c->analog[i] = fw_read_f64(r);
}

int fw_provision_channel_index(const fw_provision *p, uint64_t id) {
  for (unsigned i = 0; i < p->voter.m; i++) {
    if (p->channel_id[i] == id) return (int)i;
  }
  return -1;
}

fw_provision_status fw_provision_parse(const uint8_t *bytes, size_t n, fw_provision *p) {
  fw_reader r;
  int bad = 0;
  if (n < 9u || n > FW_MAX_PROVISION_BYTES) return FW_PROV_TOO_SHORT;
  if (bytes[0] != 'T' || bytes[1] != 'P' || bytes[2] != 'X' || bytes[3] != 'V') return FW_PROV_BAD_MAGIC;
  if (crc32c(bytes, n - 4u) != fw_get_u32le(&bytes[n - 4u])) return FW_PROV_BAD_CRC;
  fw_reader_init(&r, bytes, n - 4u);
  r.pos = 4;
  if (fw_read_u8(&r) != 1u) return FW_PROV_BAD_VERSION;
  fw_voter_config *c = &p->voter;
  p->self_principal = fw_read_uvar(&r);
  c->f = (uint8_t)bounded(&r, 0, FW_MAX_CHANNELS, &bad);
  c->m = (uint8_t)bounded(&r, 1, FW_MAX_CHANNELS, &bad);
  if (r.status != FW_DEC_OK || bad) return bad ? FW_PROV_OUT_OF_BOUNDS : FW_PROV_MALFORMED;
  for (unsigned i = 0; i < c->m; i++) p->channel_id[i] = fw_read_uvar(&r);
  c->analog_n = (uint8_t)bounded(&r, 0, FW_MAX_ANALOG, &bad);
  if (r.status != FW_DEC_OK || bad) return bad ? FW_PROV_OUT_OF_BOUNDS : FW_PROV_MALFORMED;
  for (unsigned i = 0; i < c->analog_n; i++) {
    c->tolerance[i] = fw_read_f64(&r);
    c->has_early_band[i] = (uint8_t)bounded(&r, 0, 1, &bad);
    c->early_band[i] = c->has_early_band[i] ? fw_read_f64(&r) : 0.0;
  }
  c->discrete_n = (uint8_t)bounded(&r, 0, FW_MAX_DISCRETE, &bad);
  if (r.status != FW_DEC_OK || bad) return bad ? FW_PROV_OUT_OF_BOUNDS : FW_PROV_MALFORMED;
  for (unsigned i = 0; i < c->discrete_n; i++) p->cardinality[i] = (uint16_t)bounded(&r, 1, 256, &bad);
  c->strike_threshold = (uint32_t)bounded(&r, 1, 255, &bad);
  c->strike_decay_frames = bounded(&r, 1, FW_MAX_SAFE_INTEGER, &bad);
  c->probation_frames = bounded(&r, 1, FW_MAX_SAFE_INTEGER, &bad);
  c->failsafe_after_misses = bounded(&r, 1, FW_MAX_SAFE_INTEGER, &bad);
  if (r.status != FW_DEC_OK || bad) return bad ? FW_PROV_OUT_OF_BOUNDS : FW_PROV_MALFORMED;
  read_command(&r, p, &c->failsafe, &bad);
  read_command(&r, p, &c->initial, &bad);
  c->origin = fw_read_f64(&r);
  c->period = fw_read_f64(&r);
  c->deadline = fw_read_f64(&r);
  c->first_frame = fw_read_uvar(&r);
  c->max_frames_ahead = (uint8_t)bounded(&r, 0, FW_MAX_AHEAD, &bad);
  c->receipt_window = (uint8_t)bounded(&r, 1, FW_MAX_RECEIPT_WINDOW, &bad);
  p->tag_length = (uint8_t)bounded(&r, FW_MIN_TAG_LENGTH, FW_MAX_TAG_LENGTH, &bad);
  if (r.status != FW_DEC_OK || bad) return bad ? FW_PROV_OUT_OF_BOUNDS : FW_PROV_MALFORMED;
  for (unsigned i = 0; i < c->m; i++) {
    const uint8_t *key = fw_read_raw(&r, FW_KEY_BYTES);
    if (key == NULL) return FW_PROV_MALFORMED;
    fw_hmac_key_init(&p->channel_key[i], key, FW_KEY_BYTES);
  }
  const uint8_t *hb = fw_read_raw(&r, FW_KEY_BYTES);
  if (hb == NULL) return FW_PROV_MALFORMED;
  fw_hmac_key_init(&p->heartbeat_key, hb, FW_KEY_BYTES);
  if (fw_reader_remaining(&r) != 0u) return FW_PROV_MALFORMED;
  if (fw_voter_config_check(c) != 0) return FW_PROV_BAD_CONFIG;
  for (unsigned i = 0; i < c->m; i++) {
    for (unsigned j = i + 1u; j < c->m; j++) {
      if (p->channel_id[i] == p->channel_id[j]) return FW_PROV_DUPLICATE_CHANNEL;
    }
  }
  return FW_PROV_OK;
}
