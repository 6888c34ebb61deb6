#include "hmac.h"
#include "fw_limits.h"

void fw_hmac_key_init(fw_hmac_key *k, const uint8_t *key, size_t key_n) {
  uint8_t block[FW_SHA256_BLOCK];
  uint8_t hashed[FW_SHA256_BYTES];
  size_t n = key_n;
  const uint8_t *material = key;
  if (key_n > FW_SHA256_BLOCK) {
    fw_sha256(key, key_n, hashed);
    material = hashed;
    n = FW_SHA256_BYTES;
  }
  for (size_t i = 0; i < FW_SHA256_BLOCK; i++) block[i] = (uint8_t)((i < n ? material[i] : 0u) ^ 0x36u);
  fw_sha256_init(&k->inner);
  fw_sha256_update(&k->inner, block, FW_SHA256_BLOCK);
  for (size_t i = 0; i < FW_SHA256_BLOCK; i++) block[i] = (uint8_t)((i < n ? material[i] : 0u) ^ 0x5Cu);
  fw_sha256_init(&k->outer);
  fw_sha256_update(&k->outer, block, FW_SHA256_BLOCK);
}

void fw_hmac(const fw_hmac_key *k, const uint8_t *data, size_t n, uint8_t out[FW_SHA256_BYTES]) {
  uint8_t inner_digest[FW_SHA256_BYTES];
  fw_sha256_ctx s = k->inner;
  fw_sha256_update(&s, data, n);
  fw_sha256_final(&s, inner_digest);
  s = k->outer;
  fw_sha256_update(&s, inner_digest, FW_SHA256_BYTES);
  fw_sha256_final(&s, out);
}

int fw_ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < n; i++) diff = (uint8_t)(diff | (a[i] ^ b[i]));
  return diff == 0u;
}

int fw_hmac_verify(const fw_hmac_key *k, const uint8_t *data, size_t n, const uint8_t *tag, size_t tag_n,
                   size_t tag_length) {
  uint8_t full[FW_SHA256_BYTES];
  if (tag_length < FW_MIN_TAG_LENGTH || tag_length > FW_MAX_TAG_LENGTH || tag_n != tag_length) return 0;
  fw_hmac(k, data, n, full);
  return fw_ct_equal(full, tag, tag_length);
}
