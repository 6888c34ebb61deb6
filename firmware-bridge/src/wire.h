/*
 * The canonical encoding of src/core/codec/wire.ts, for the subset the unit speaks: u8, minimal unsigned
 * LEB128 varints up to 2^53 - 1, finite IEEE-754 binary64 big-endian, raw bytes.
 *
 * The reader keeps the first failure (sticky): once failed, reads return zero and change nothing, so a
 * decoder can read a whole message and check once; the reason is the one src/core/codec would report.
 */
#ifndef FW_WIRE_H
#define FW_WIRE_H
#include <stddef.h>
#include <stdint.h>

/* RejectionReason of src/core/codec/wire.ts, plus the unit's own 'unhandled-kind'. Values are wire codes. */
typedef enum {
  FW_DEC_OK = 0,
  FW_DEC_EMPTY = 1,
  FW_DEC_TOO_LONG = 2,
  FW_DEC_BAD_VERSION = 3,
  FW_DEC_UNKNOWN_KIND = 4,
  FW_DEC_TRUNCATED = 5,
  FW_DEC_TRAILING_BYTES = 6,
  FW_DEC_NON_MINIMAL_VARINT = 7,
  FW_DEC_INTEGER_OUT_OF_RANGE = 8,
  FW_DEC_NON_FINITE_FLOAT = 9,
  FW_DEC_LENGTH_OVER_LIMIT = 10,
  FW_DEC_COUNT_OVER_LIMIT = 11,
  FW_DEC_BAD_FIXED_LENGTH = 12,
  FW_DEC_UNKNOWN_VARIANT = 13,
  FW_DEC_BAD_BOOL = 14,
  /* A well-formed kind tag the unit does not consume (body not checked, except heartbeat). */
  FW_DEC_UNHANDLED_KIND = 15
} fw_decode_status;

#define FW_MAX_SAFE_INTEGER 9007199254740991ull

typedef struct {
  const uint8_t *bytes;
  size_t length;
  size_t pos;
  fw_decode_status status;
} fw_reader;

void fw_reader_init(fw_reader *r, const uint8_t *bytes, size_t length);
size_t fw_reader_remaining(const fw_reader *r);
void fw_reader_fail(fw_reader *r, fw_decode_status status);
uint8_t fw_read_u8(fw_reader *r);
uint64_t fw_read_uvar(fw_reader *r);
double fw_read_f64(fw_reader *r);
/* Points at n bytes inside the input (no copy); NULL when short. */
const uint8_t *fw_read_raw(fw_reader *r, size_t n);

typedef struct {
  uint8_t *bytes;
  size_t capacity;
  size_t length;
  int overflow;
} fw_writer;

void fw_writer_init(fw_writer *w, uint8_t *bytes, size_t capacity);
void fw_write_u8(fw_writer *w, uint8_t v);
/* v must be <= 2^53 - 1 (callers hold only such values). */
void fw_write_uvar(fw_writer *w, uint64_t v);
void fw_write_f64(fw_writer *w, double v);
void fw_write_raw(fw_writer *w, const uint8_t *bytes, size_t n);

uint64_t fw_f64_bits(double v);
double fw_f64_from_bits(uint64_t bits);

#endif
