#include "message.h"

/* bytes(maxTagBytes): length first, checked against the limit before the bytes are read. */
static void read_tag(fw_reader *r, uint8_t *tag, uint8_t *tag_n) {
  const uint64_t n = fw_read_uvar(r);
  *tag_n = 0;
  if (r->status != FW_DEC_OK) return;
  if (n > FW_MAX_TAG_BYTES) {
    fw_reader_fail(r, FW_DEC_LENGTH_OVER_LIMIT);
    return;
  }
  const uint8_t *p = fw_read_raw(r, (size_t)n);
  if (p == NULL) return;
  for (size_t i = 0; i < (size_t)n; i++) tag[i] = p[i];
  *tag_n = (uint8_t)n;
}

/* array(_, maxOutputFields): count over the limit, then a count beyond the remaining bytes, is rejected. */
static uint8_t read_count(fw_reader *r) {
  const uint64_t n = fw_read_uvar(r);
  if (r->status != FW_DEC_OK) return 0;
  if (n > FW_MAX_OUTPUT_FIELDS) {
    fw_reader_fail(r, FW_DEC_COUNT_OVER_LIMIT);
    return 0;
  }
  if (n > fw_reader_remaining(r)) {
    fw_reader_fail(r, FW_DEC_TRUNCATED);
    return 0;
  }
  return (uint8_t)n;
}

static void read_output(fw_reader *r, fw_output *o, size_t *auth_n) {
  o->frame = fw_read_uvar(r);
  o->channel = fw_read_uvar(r);
  o->discrete_n = read_count(r);
  for (uint8_t i = 0; i < o->discrete_n && r->status == FW_DEC_OK; i++) o->discrete[i] = fw_read_uvar(r);
  o->analog_n = read_count(r);
  for (uint8_t i = 0; i < o->analog_n && r->status == FW_DEC_OK; i++) o->analog[i] = fw_read_f64(r);
  *auth_n = r->pos;
  read_tag(r, o->tag, &o->tag_n);
}

static void read_heartbeat(fw_reader *r, fw_heartbeat *h, size_t *auth_n) {
  h->node = fw_read_uvar(r);
  h->role = fw_read_u8(r);
  h->counter = fw_read_uvar(r);
  h->status = fw_read_u8(r);
  *auth_n = r->pos;
  read_tag(r, h->tag, &h->tag_n);
}

fw_decode_status fw_decode_message(const uint8_t *bytes, size_t n, size_t max_bytes, fw_message *out) {
  fw_reader r;
  out->kind = 0;
  out->auth_n = 0;
  if (n == 0u) return FW_DEC_EMPTY;
  if (n > max_bytes) return FW_DEC_TOO_LONG;
  fw_reader_init(&r, bytes, n);
  if (fw_read_u8(&r) != FW_WIRE_VERSION) return FW_DEC_BAD_VERSION;
  if (n >= 2u && bytes[1] >= FW_KIND_COUNT) return FW_DEC_UNKNOWN_KIND;
  const uint8_t kind = fw_read_u8(&r);
  if (r.status != FW_DEC_OK) return r.status; /* version byte only: the kind tag is truncated */
  if (kind == FW_KIND_OUTPUT) {
    read_output(&r, &out->u.output, &out->auth_n);
  } else if (kind == FW_KIND_HEARTBEAT) {
    read_heartbeat(&r, &out->u.heartbeat, &out->auth_n);
  } else {
    return FW_DEC_UNHANDLED_KIND;
  }
  if (r.status != FW_DEC_OK) return r.status;
  if (fw_reader_remaining(&r) != 0u) return FW_DEC_TRAILING_BYTES;
  out->kind = kind;
  return FW_DEC_OK;
}

void fw_encode_heartbeat_unsigned(fw_writer *w, const fw_heartbeat *h) {
  fw_write_u8(w, FW_WIRE_VERSION);
  fw_write_u8(w, FW_KIND_HEARTBEAT);
  fw_write_uvar(w, h->node);
  fw_write_u8(w, h->role);
  fw_write_uvar(w, h->counter);
  fw_write_u8(w, h->status);
}

void fw_encode_tag(fw_writer *w, const uint8_t *tag, size_t n) {
  fw_write_uvar(w, (uint64_t)n);
  fw_write_raw(w, tag, n);
}
