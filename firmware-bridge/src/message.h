/*
 * The two messages of src/core/codec/messages.ts the unit speaks, in the same canonical bytes:
 *
 *   [WIRE_VERSION = 1][kind tag][fields in schema order]
 *   output    (tag 10): frame uvar, channel uvar, discrete uvar[<=16], analog f64[<=16], tag bytes[<=32]
 *   heartbeat (tag 11): node uvar, role u8, counter uvar, status u8, tag bytes[<=32]
 *
 * Decoding is total and gives the rejection reason decodeMessage would give, field by field. Any other
 * well-formed kind tag is FW_DEC_UNHANDLED_KIND (the unit consumes nothing else). The bytes a MAC covers
 * (authPayload) are the encoding without its final tag field: since decoding accepts only canonical bytes,
 * that is exactly the received prefix up to the tag.
 */
#ifndef FW_MESSAGE_H
#define FW_MESSAGE_H
#include <stddef.h>
#include <stdint.h>
#include "fw_limits.h"
#include "wire.h"

#define FW_WIRE_VERSION 1u
#define FW_KIND_COUNT 20u
#define FW_KIND_OUTPUT 10u
#define FW_KIND_HEARTBEAT 11u

typedef struct {
  uint64_t frame;
  uint64_t channel;
  uint8_t discrete_n;
  uint8_t analog_n;
  uint64_t discrete[FW_MAX_OUTPUT_FIELDS];
  double analog[FW_MAX_OUTPUT_FIELDS];
  uint8_t tag_n;
  uint8_t tag[FW_MAX_TAG_BYTES];
} fw_output;

typedef struct {
  uint64_t node;
  uint8_t role;
  uint64_t counter;
  uint8_t status;
  uint8_t tag_n;
  uint8_t tag[FW_MAX_TAG_BYTES];
} fw_heartbeat;

typedef struct {
  uint8_t kind; /* FW_KIND_OUTPUT or FW_KIND_HEARTBEAT when status is OK */
  /* Length of the authenticated prefix (authPayload) of the input bytes. */
  size_t auth_n;
  union {
    fw_output output;
    fw_heartbeat heartbeat;
  } u;
} fw_message;

/* Decode bytes[0, n), at most max_bytes long (the unit uses FW_MAX_MESSAGE_BYTES). */
fw_decode_status fw_decode_message(const uint8_t *bytes, size_t n, size_t max_bytes, fw_message *out);

/* Canonical bytes of a heartbeat without its tag (the authPayload), then append the tag field. */
void fw_encode_heartbeat_unsigned(fw_writer *w, const fw_heartbeat *h);
void fw_encode_tag(fw_writer *w, const uint8_t *tag, size_t n);

#endif
