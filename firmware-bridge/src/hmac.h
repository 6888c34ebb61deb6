/*
 * HMAC-SHA-256 (RFC 2104) with truncated tags, as src/core/crypto/mac.ts: the tag is the first `length`
 * bytes of the full MAC, 8 <= length <= 32; a tag of any other length never verifies; compare in constant time.
 */
#ifndef FW_HMAC_H
#define FW_HMAC_H
#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

/* A key bound once: the inner and outer states after the padded key block (saves two compressions a MAC). */
typedef struct {
  fw_sha256_ctx inner;
  fw_sha256_ctx outer;
} fw_hmac_key;

/* Any key length: keys longer than a block are hashed first (RFC 2104). */
void fw_hmac_key_init(fw_hmac_key *k, const uint8_t *key, size_t key_n);
void fw_hmac(const fw_hmac_key *k, const uint8_t *data, size_t n, uint8_t out[FW_SHA256_BYTES]);
/* True (1) iff tag[0, tag_n) is the tag_length-byte tag of data; tag_n != tag_length is always false. */
int fw_hmac_verify(const fw_hmac_key *k, const uint8_t *data, size_t n, const uint8_t *tag, size_t tag_n,
                   size_t tag_length);
/* Constant-time equality of n bytes: time depends on n only. */
int fw_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

#endif
