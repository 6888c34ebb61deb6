/*
 * Fuzz harness for the unit's untrusted-input paths, built with ASan and UBSan (make fuzz). Two modes:
 *
 *   triplex-fw-fuzz decode   stdin: records [length u16 LE][bytes]; stdout: one byte per record, the
 *                            fw_decode_status, or 0xFF when an accepted message does not re-encode to itself
 *   triplex-fw-fuzz link PROVISION
 *                            stdin: raw link bytes into a provisioned unit (deframer, requests, decoder, MAC,
 *                            voter); stdout: one JSON line of counters at the end
 *
 * Any sanitizer report aborts the process (-fno-sanitize-recover), which the driver counts as a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/board.h"
#include "../src/message.h"
#include "../src/nvm.h"
#include "../src/port.h"

static unsigned long long written = 0;
static unsigned long long actuator = 0;

void fw_port_write(const uint8_t *bytes, size_t n) {
  (void)bytes;
  written += n;
}
void fw_port_actuator(const fw_decision *d) {
  (void)d;
  actuator++;
}
uint32_t fw_port_stack_used(void) { return 0; }

uint32_t fw_port_ticks(void) { return 0; }
/* NVM in RAM (erased at start): link mode boots twice through fw_nvm_advance under the sanitizers. */
static uint8_t nvm_area[FW_NVM_BYTES];
int fw_port_nvm_read(uint8_t *bytes, size_t n) {
  if (n > sizeof nvm_area) return 0;
  memcpy(bytes, nvm_area, n);
  return 1;
}
int fw_port_nvm_write(size_t offset, const uint8_t *bytes, size_t n) {
  if (offset > sizeof nvm_area || n > sizeof nvm_area - offset) return 0;
  memcpy(&nvm_area[offset], bytes, n);
  return 1;
}
void fw_invariant_failed(int line) {
  fprintf(stderr, "invariant failed at voter.c:%d\n", line);
  abort();
}

/* Canonical re-encoding of a decoded message (what src/core/codec encodeMessage would write). */
static size_t reencode(const fw_message *m, uint8_t *out, size_t cap) {
  fw_writer w;
  fw_writer_init(&w, out, cap);
  if (m->kind == FW_KIND_OUTPUT) {
    const fw_output *o = &m->u.output;
    fw_write_u8(&w, FW_WIRE_VERSION);
    fw_write_u8(&w, FW_KIND_OUTPUT);
    fw_write_uvar(&w, o->frame);
    fw_write_uvar(&w, o->channel);
    fw_write_uvar(&w, o->discrete_n);
    for (unsigned i = 0; i < o->discrete_n; i++) fw_write_uvar(&w, o->discrete[i]);
    fw_write_uvar(&w, o->analog_n);
    for (unsigned i = 0; i < o->analog_n; i++) fw_write_f64(&w, o->analog[i]);
    fw_encode_tag(&w, o->tag, o->tag_n);
  } else {
    fw_encode_heartbeat_unsigned(&w, &m->u.heartbeat);
    fw_encode_tag(&w, m->u.heartbeat.tag, m->u.heartbeat.tag_n);
  }
  return w.overflow ? 0 : w.length;
}

static int decode_mode(void) {
  static uint8_t again[FW_MAX_MESSAGE_BYTES + 64];
  static uint8_t results[4096];
  static fw_message m;
  size_t nres = 0;
  for (;;) {
    uint8_t hdr[2];
    if (fread(hdr, 1, 2, stdin) != 2) break;
    const size_t n = (size_t)hdr[0] | ((size_t)hdr[1] << 8);
    /* Exactly n bytes, in a buffer of exactly n bytes' worth of validity: ASan sees any overread. */
    uint8_t *buf = malloc(n == 0 ? 1 : n); /* the harness may allocate; the firmware never does */
    if (buf == NULL || fread(buf, 1, n, stdin) != n) {
      free(buf);
      break;
    }
    const fw_decode_status st = fw_decode_message(buf, n, FW_MAX_MESSAGE_BYTES, &m);
    uint8_t code = (uint8_t)st;
    if (st == FW_DEC_OK) {
      const size_t k = reencode(&m, again, sizeof again);
      if (k != n || memcmp(again, buf, n) != 0) code = 0xFFu;
    }
    free(buf);
    results[nres++] = code;
    if (nres == sizeof results) {
      fwrite(results, 1, nres, stdout);
      nres = 0;
    }
  }
  fwrite(results, 1, nres, stdout);
  return 0;
}

static int link_mode(const char *prov_path) {
  static uint8_t prov[FW_MAX_PROVISION_BYTES];
  static fw_board board;
  static uint8_t chunk[65536];
  FILE *f = fopen(prov_path, "rb");
  if (f == NULL) return 2;
  const size_t pn = fread(prov, 1, sizeof prov, f);
  fclose(f);
  memset(nvm_area, 0xFF, sizeof nvm_area);
  (void)fw_nvm_advance();
  const uint32_t epoch = fw_nvm_advance(); /* 2: as after a reset, the rejoin floor armed */
  if (epoch != 2u) return 4;
  fw_board_init(&board, prov, pn, 1, FW_RESET_WATCHDOG, epoch);
  unsigned long long bytes = 0;
  for (;;) {
    const size_t n = fread(chunk, 1, sizeof chunk, stdin);
    if (n == 0) break;
    bytes += n;
    for (size_t i = 0; i < n; i++) fw_board_feed(&board, chunk[i]);
  }
  unsigned long long offers = 0;
  for (unsigned i = 0; i < FW_CODE_COUNT; i++) offers += board.codes[i];
  printf("{\"provision\":%u,\"bytes\":%llu,\"frames\":%u,\"cobs\":%u,\"crc\":%u,\"tooLong\":%u,\"empty\":%u,"
         "\"offers\":%llu,\"buffered\":%u,\"linkErrors\":%u,\"decisions\":%u,\"responseBytes\":%llu}\n",
         (unsigned)board.prov_status, bytes, (unsigned)board.deframer.accepted,
         (unsigned)board.deframer.rejected[0], (unsigned)board.deframer.rejected[1],
         (unsigned)board.deframer.rejected[2], (unsigned)board.deframer.rejected[3], offers,
         (unsigned)board.codes[0], (unsigned)board.link_errors,
         (unsigned)(board.voter.decisions[0] + board.voter.decisions[1] + board.voter.decisions[2]), written);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "decode") == 0) return decode_mode();
  if (argc >= 3 && strcmp(argv[1], "link") == 0) return link_mode(argv[2]);
  fprintf(stderr, "usage: triplex-fw-fuzz decode | link PROVISION\n");
  return 2;
}
