/*
 * Test tool for the firmware's building blocks, driven line by line on stdin by test/firmware (one command a
 * line, one answer a line, hex for bytes):
 *
 *   sha256 DATA            -> digest
 *   hmac KEY DATA LEN      -> first LEN bytes of HMAC-SHA-256
 *   verify KEY DATA TAG LEN -> 1 or 0
 *   crc DATA               -> CRC-32C as 8 hex digits
 *   frame PAYLOAD          -> serial frame (both delimiters)
 *   deframe BYTES          -> payloads completed, space separated ("-" when none), then "|" and the
 *                             rejection counters cobs,crc,too-long,empty (state kept across lines)
 *   mid V1,V2,...          -> mid-value as 16 hex digits of the binary64 bits (values as bit patterns)
 *   selftest               -> "ok" or the first failing FIPS 180-4 / RFC 4231 vector
 *
 * Empty data is written as "-".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/crc32c.h"
#include "../src/frame.h"
#include "../src/hmac.h"
#include "../src/sha256.h"
#include "../src/port.h"
#include "../src/voter.h"

#define MAX_BYTES 4096

void fw_invariant_failed(int line) {
  fprintf(stderr, "invariant failed at line %d\n", line);
  abort();
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Returns the byte count, or -1 on bad hex. */
static long unhex(const char *s, uint8_t *out, size_t cap) {
  if (strcmp(s, "-") == 0) return 0;
  const size_t n = strlen(s);
  if (n % 2u != 0u || n / 2u > cap) return -1;
  for (size_t i = 0; i < n / 2u; i++) {
    const int hi = hexval(s[2u * i]);
    const int lo = hexval(s[2u * i + 1u]);
    if (hi < 0 || lo < 0) return -1;
    out[i] = (uint8_t)(hi * 16 + lo);
  }
  return (long)(n / 2u);
}

static void puthex(const uint8_t *b, size_t n) {
  if (n == 0u) fputs("-", stdout);
  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static int vector_ok(const char *key_ascii_or_hex, int key_is_hex, size_t key_repeat, const char *data,
                     int data_is_hex, size_t data_repeat, const char *expect_hex, size_t tag_n) {
  static uint8_t key[256], msg[1024], expect[32], mac[32];
  size_t kn = 0, mn = 0;
  if (key_is_hex) {
    kn = (size_t)unhex(key_ascii_or_hex, key, sizeof key);
  } else {
    kn = strlen(key_ascii_or_hex);
    memcpy(key, key_ascii_or_hex, kn);
  }
  if (key_repeat > 0u) {
    for (size_t i = 0; i < key_repeat; i++) key[i] = key[0];
    kn = key_repeat;
  }
  if (data_is_hex) {
    mn = (size_t)unhex(data, msg, sizeof msg);
  } else {
    mn = strlen(data);
    memcpy(msg, data, mn);
  }
  if (data_repeat > 0u) {
    for (size_t i = 0; i < data_repeat; i++) msg[i] = msg[0];
    mn = data_repeat;
  }
  unhex(expect_hex, expect, sizeof expect);
  fw_hmac_key k;
  fw_hmac_key_init(&k, key, kn);
  fw_hmac(&k, msg, mn, mac);
  return memcmp(mac, expect, tag_n) == 0 && fw_hmac_verify(&k, msg, mn, expect, tag_n, tag_n);
}

static const char *selftest(void) {
  uint8_t d[32], e[32];
  static uint8_t million[1000000];
  /* FIPS 180-4 (examples of the NIST CSRC page): "abc", the two-block message, one million 'a'. */
  fw_sha256((const uint8_t *)"abc", 3, d);
  unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", e, 32);
  if (memcmp(d, e, 32) != 0) return "sha256 abc";
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  fw_sha256((const uint8_t *)two, strlen(two), d);
  unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", e, 32);
  if (memcmp(d, e, 32) != 0) return "sha256 448 bits";
  memset(million, 'a', sizeof million);
  fw_sha256(million, sizeof million, d);
  unhex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", e, 32);
  if (memcmp(d, e, 32) != 0) return "sha256 million a";
  fw_sha256((const uint8_t *)"", 0, d);
  unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", e, 32);
  if (memcmp(d, e, 32) != 0) return "sha256 empty";
  /* RFC 4231 test cases 1-7 (HMAC-SHA-256); case 5 is truncated to 128 bits. */
  if (!vector_ok("0b", 1, 20, "Hi There", 0, 0,
                 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32))
    return "rfc4231 case 1";
  if (!vector_ok("Jefe", 0, 0, "what do ya want for nothing?", 0, 0,
                 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32))
    return "rfc4231 case 2";
  if (!vector_ok("aa", 1, 20, "dd", 1, 50,
                 "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32))
    return "rfc4231 case 3";
  if (!vector_ok("0102030405060708090a0b0c0d0e0f10111213141516171819", 1, 0, "cd", 1, 50,
                 "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32))
    return "rfc4231 case 4";
  if (!vector_ok("0c", 1, 20, "Test With Truncation", 0, 0, "a3b6167473100ee06e0c796c2955552b", 16))
    return "rfc4231 case 5";
  if (!vector_ok("aa", 1, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
                 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32))
    return "rfc4231 case 6";
  if (!vector_ok("aa", 1, 131,
                 "This is a test using a larger than block-size key and a larger than block-size data. "
                 "The key needs to be hashed before being used by the HMAC algorithm.",
                 0, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32))
    return "rfc4231 case 7";
  if (crc32c((const uint8_t *)"123456789", 9) != 0xE3069283u) return "crc32c check value";
  return "ok";
}

int main(void) {
  static char line[3 * MAX_BYTES * 2 + 64];
  static uint8_t a[MAX_BYTES], b[MAX_BYTES], c[MAX_BYTES], out[2 * MAX_BYTES];
  static fw_deframer deframer;
  fw_deframer_init(&deframer);
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *save = NULL;
    line[strcspn(line, "\r\n")] = '\0';
    char *cmd = strtok_r(line, " ", &save);
    char *x = strtok_r(NULL, " ", &save);
    char *y = strtok_r(NULL, " ", &save);
    char *z = strtok_r(NULL, " ", &save);
    char *t = strtok_r(NULL, " ", &save);
    if (cmd == NULL) continue;
    if (strcmp(cmd, "selftest") == 0) {
      puts(selftest());
    } else if (strcmp(cmd, "sha256") == 0 && x != NULL) {
      const long n = unhex(x, a, sizeof a);
      uint8_t d[32];
      fw_sha256(a, (size_t)(n < 0 ? 0 : n), d);
      puthex(d, 32);
      putchar('\n');
    } else if (strcmp(cmd, "hmac") == 0 && z != NULL) {
      const long kn = unhex(x, a, sizeof a), n = unhex(y, b, sizeof b);
      const long len = strtol(z, NULL, 10);
      uint8_t d[32];
      fw_hmac_key k;
      fw_hmac_key_init(&k, a, (size_t)kn);
      fw_hmac(&k, b, (size_t)n, d);
      puthex(d, (size_t)(len < 0 || len > 32 ? 32 : len));
      putchar('\n');
    } else if (strcmp(cmd, "verify") == 0 && t != NULL) {
      const long kn = unhex(x, a, sizeof a), n = unhex(y, b, sizeof b), tn = unhex(z, c, sizeof c);
      fw_hmac_key k;
      fw_hmac_key_init(&k, a, (size_t)kn);
      printf("%d\n", fw_hmac_verify(&k, b, (size_t)n, c, (size_t)tn, (size_t)strtol(t, NULL, 10)));
    } else if (strcmp(cmd, "crc") == 0 && x != NULL) {
      const long n = unhex(x, a, sizeof a);
      printf("%08x\n", crc32c(a, (size_t)n));
    } else if (strcmp(cmd, "frame") == 0 && x != NULL) {
      const long n = unhex(x, a, sizeof a);
      const size_t k = fw_frame_encode(a, (size_t)n, out, sizeof out);
      puthex(out, k);
      putchar('\n');
    } else if (strcmp(cmd, "deframe") == 0 && x != NULL) {
      const long n = unhex(x, a, sizeof a);
      int any = 0;
      for (long i = 0; i < n; i++) {
        const size_t k = fw_deframer_push(&deframer, a[i]);
        if (k > 0u) {
          if (any) putchar(' ');
          puthex(deframer.decoded, k);
          any = 1;
        }
      }
      if (!any) putchar('-');
      printf("|%u,%u,%u,%u\n", (unsigned)deframer.rejected[0], (unsigned)deframer.rejected[1],
             (unsigned)deframer.rejected[2], (unsigned)deframer.rejected[3]);
    } else if (strcmp(cmd, "mid") == 0 && x != NULL) {
      double v[FW_MAX_CHANNELS];
      uint8_t n = 0;
      for (char *p = strtok_r(x, ",", &save); p != NULL && n < FW_MAX_CHANNELS; p = strtok_r(NULL, ",", &save)) {
        const unsigned long long bits = strtoull(p, NULL, 16);
        memcpy(&v[n++], &bits, sizeof bits);
      }
      const double m = fw_mid_value(v, n);
      unsigned long long bits;
      memcpy(&bits, &m, sizeof bits);
      printf("%016llx\n", bits);
    } else {
      puts("error");
    }
  }
  return 0;
}
