/*
 * The Cortex-M3 build of the actuator interface unit, for QEMU mps2-an385: UART0 is the link to the rig,
 * UART1 the actuator command out. The frame loop strokes the watchdog on every pass; it sleeps in WFI until
 * a byte arrives or the 10 ms SysTick, so an idle unit keeps stroking while a unit stuck inside the loop
 * body (a hang) stops, and the watchdog resets the board.
 */
#include "../src/board.h"
#include "../src/nvm.h"
#include "../src/port.h"
#include "mps2.h"
#include "platform.h"

#define BOOT_MAGIC 0x424F4F54u /* "BOOT" */

extern uint32_t _stack_bottom, _stack_top;

static struct {
  uint32_t magic;
  uint32_t boots;
} boot_record __attribute__((section(".noinit")));

static fw_board board;

void fw_port_write(const uint8_t *bytes, size_t n) { uart_write(UART0_BASE, bytes, n); }

void fw_port_actuator(const fw_decision *d) {
  /* ACTUATOR frame, as the host build: 0xA0, frame uvar, kind u8, discrete uvar..., analog f64... */
  static uint8_t payload[64];
  static uint8_t wire[FW_FRAME_MAX(64u)];
  fw_writer w;
  fw_writer_init(&w, payload, sizeof payload);
  fw_write_u8(&w, 0xA0u);
  fw_write_uvar(&w, d->frame);
  fw_write_u8(&w, d->kind);
  for (unsigned i = 0; i < board.voter.cfg.discrete_n; i++) fw_write_uvar(&w, d->value.discrete[i]);
  for (unsigned i = 0; i < board.voter.cfg.analog_n; i++) fw_write_f64(&w, d->value.analog[i]);
  const size_t n = fw_frame_encode(payload, w.length, wire, sizeof wire);
  if (!w.overflow && n > 0u) uart_write(UART1_BASE, wire, n);
}

uint32_t fw_port_ticks(void) { return systick_ticks(); }

uint32_t fw_port_stack_used(void) { return stack_high_water(); }

void fw_invariant_failed(int line) {
  (void)line;
  irq_disable();
  for (;;) {
  }
}

#ifdef FW_TEST_HOOKS
void fw_port_hang(void) {
  for (;;) {
  }
}
#endif

uint32_t stack_high_water(void) {
  const uint32_t *p = &_stack_bottom;
  while (p < &_stack_top && *p == FW_STACK_PAINT) p++;
  return (uint32_t)((uintptr_t)&_stack_top - (uintptr_t)p);
}

int main(void) {
  uint8_t reset_cause = FW_RESET_POWER_ON;
  if (boot_record.magic == BOOT_MAGIC) {
    boot_record.boots++;
    if (watchdog_fired()) reset_cause = FW_RESET_WATCHDOG;
  } else {
    boot_record.magic = BOOT_MAGIC;
    boot_record.boots = 0;
  }
  watchdog_clear_fired();
  systick_start();
  uart_init(UART1_BASE, 0);
  uart_init(UART0_BASE, 1);
  const uint32_t length = *(const volatile uint32_t *)FW_PROVISION_ADDR;
  const uint8_t *record = (const uint8_t *)(FW_PROVISION_ADDR + 4u);
  const uint32_t epoch = fw_nvm_advance(); /* before the watchdog runs: semihosting can take a while */
  fw_board_init(&board, length > 0u && length <= FW_MAX_PROVISION_BYTES ? record : NULL, length,
                boot_record.boots, reset_cause, epoch);
  /*
   * The CMSDK watchdog resets on its second expiry (the first raises the NMI): half the timeout per expiry, in
   * 25 MHz ticks (guest time: -icount makes it repeatable). 100 ms at 50 Hz with failsafeAfterMisses 10.
   */
  watchdog_start(fw_board_watchdog_ms(&board) * (MPS2_SYSCLK_HZ / 1000u / 2u));
  for (;;) {
    uint8_t byte;
    watchdog_stroke();
    if (uart_read(UART0_BASE, &byte)) {
      fw_board_feed(&board, byte);
      continue;
    }
    /* Sleep only when nothing is waiting; with interrupts masked a pending one still ends the WFI. */
    irq_disable();
    if ((UART_STATE(UART0_BASE) & UART_STATE_RX_FULL) == 0u) wait_for_interrupt();
    irq_enable();
  }
}
