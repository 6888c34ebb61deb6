#include "wire.h"
#include <string.h>

void fw_reader_init(fw_reader *r, const uint8_t *bytes, size_t length) {
  r->bytes = bytes;
  r->length = length;
  r->pos = 0;
  r->status = FW_DEC_OK;
}

size_t fw_reader_remaining(const fw_reader *r) { return r->length - r->pos; }

void fw_reader_fail(fw_reader *r, fw_decode_status status) {
  if (r->status == FW_DEC_OK) r->status = status;
}

static int need(fw_reader *r, size_t n) {
  if (r->status != FW_DEC_OK) return 0;
  if (fw_reader_remaining(r) < n) {
    fw_reader_fail(r, FW_DEC_TRUNCATED);
    return 0;
  }
  return 1;
}

uint8_t fw_read_u8(fw_reader *r) {
  if (!need(r, 1)) return 0;
  return r->bytes[r->pos++];
}

uint64_t fw_read_uvar(fw_reader *r) {
  uint64_t value = 0;
  /* 8 bytes of 7 bits cover 2^53; a ninth byte is always out of range (wire.ts Reader.uvar). */
  for (unsigned i = 0; i < 8u; i++) {
    if (!need(r, 1)) return 0;
    const uint8_t byte = r->bytes[r->pos++];
    value |= (uint64_t)(byte & 0x7Fu) << (7u * i);
    if ((byte & 0x80u) == 0u) {
      if (i > 0u && byte == 0u) {
        fw_reader_fail(r, FW_DEC_NON_MINIMAL_VARINT);
        return 0;
      }
      if (value > FW_MAX_SAFE_INTEGER) {
        fw_reader_fail(r, FW_DEC_INTEGER_OUT_OF_RANGE);
        return 0;
      }
      return value;
    }
  }
  fw_reader_fail(r, FW_DEC_INTEGER_OUT_OF_RANGE);
  return 0;
}

uint64_t fw_f64_bits(double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  return bits;
}

double fw_f64_from_bits(uint64_t bits) {
  double v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

double fw_read_f64(fw_reader *r) {
  if (!need(r, 8)) return 0.0;
  uint64_t bits = 0;
  for (unsigned i = 0; i < 8u; i++) bits = (bits << 8) | r->bytes[r->pos + i];
  r->pos += 8u;
  /* Exponent all ones: infinity or NaN, neither has an encoding. Checked on bits, no float compare. */
  if (((bits >> 52) & 0x7FFu) == 0x7FFu) {
    fw_reader_fail(r, FW_DEC_NON_FINITE_FLOAT);
    return 0.0;
  }
  return fw_f64_from_bits(bits);
}

const uint8_t *fw_read_raw(fw_reader *r, size_t n) {
  if (!need(r, n)) return NULL;
  const uint8_t *p = &r->bytes[r->pos];
  r->pos += n;
  return p;
}

void fw_writer_init(fw_writer *w, uint8_t *bytes, size_t capacity) {
  w->bytes = bytes;
  w->capacity = capacity;
  w->length = 0;
  w->overflow = 0;
}

static int room(fw_writer *w, size_t n) {
  if (w->overflow || w->capacity - w->length < n) {
    w->overflow = 1;
    return 0;
  }
  return 1;
}

void fw_write_u8(fw_writer *w, uint8_t v) {
  if (room(w, 1)) w->bytes[w->length++] = v;
}

void fw_write_uvar(fw_writer *w, uint64_t v) {
  size_t n = 1;
  for (uint64_t x = v >> 7; x != 0u && n < 8u; x >>= 7) n++;
  if (!room(w, n)) return;
  /* At most 8 groups of 7 bits for v < 2^56. */
  for (unsigned i = 0; i < 8u && v >= 0x80u; i++) {
    w->bytes[w->length++] = (uint8_t)((v & 0x7Fu) | 0x80u);
    v >>= 7;
  }
  w->bytes[w->length++] = (uint8_t)v;
}

void fw_write_f64(fw_writer *w, double v) {
  if (!room(w, 8)) return;
  const uint64_t bits = fw_f64_bits(v);
  for (unsigned i = 0; i < 8u; i++) w->bytes[w->length++] = (uint8_t)(bits >> (56u - 8u * i));
}

void fw_write_raw(fw_writer *w, const uint8_t *bytes, size_t n) {
  if (!room(w, n)) return;
  for (size_t i = 0; i < n; i++) w->bytes[w->length++] = bytes[i];
}
