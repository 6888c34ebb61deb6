/*
 * The unit's NVM on the Cortex-M3 under QEMU: mps2-an385 has no writable flash, so the two epoch slots
 * (src/nvm.h) live in a host file reached over ARM semihosting (QEMU -semihosting-config
 * enable=on,target=native; the file is FW_NVM_FILE in QEMU's working directory). Each call opens, works and
 * closes, so QEMU's file is complete whenever the board is reset or its process is killed; semihosting has
 * no fsync (a host crash right after a boot can lose that boot's epoch, which the next boot then reuses: the
 * rolled-back NVM of nvm.h's stated limit).
 */
#include "../src/nvm.h"

#define FW_NVM_FILE "triplex-fw.nvm"

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE 0x05
#define SYS_READ 0x06
#define SYS_SEEK 0x0A
/* fopen modes in the semihosting numbering. */
#define MODE_RB_PLUS 3
#define MODE_WB_PLUS 7

static int semihost(int op, void *args) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = args;
  __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static int open_nvm(void) {
  static char name[] = FW_NVM_FILE;
  int args[3] = {(int)(uintptr_t)name, MODE_RB_PLUS, (int)(sizeof name - 1u)};
  int h = semihost(SYS_OPEN, args);
  if (h < 0) {
    args[1] = MODE_WB_PLUS; /* missing: create it (an erased part) */
    h = semihost(SYS_OPEN, args);
  }
  return h;
}

static void close_nvm(int h) {
  int args[1] = {h};
  (void)semihost(SYS_CLOSE, args);
}

static int seek(int h, size_t at) {
  int args[2] = {h, (int)at};
  return semihost(SYS_SEEK, args) == 0;
}

int fw_port_nvm_read(uint8_t *bytes, size_t n) {
  for (size_t i = 0; i < n; i++) bytes[i] = 0xFFu;
  const int h = open_nvm();
  if (h < 0) return 0;
  int args[3] = {h, (int)(uintptr_t)bytes, (int)n};
  /* SYS_READ returns the bytes not read: a short (new) file leaves the rest erased. */
  const int ok = seek(h, 0u) && semihost(SYS_READ, args) >= 0;
  close_nvm(h);
  return ok;
}

int fw_port_nvm_write(size_t offset, const uint8_t *bytes, size_t n) {
  const int h = open_nvm();
  if (h < 0) return 0;
  int args[3] = {h, (int)(uintptr_t)bytes, (int)n};
  const int ok = seek(h, offset) && semihost(SYS_WRITE, args) == 0;
  close_nvm(h);
  return ok;
}
