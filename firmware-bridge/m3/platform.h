/* The Cortex-M3 drivers of the unit (uart.c, watchdog.c, systick.c) and what main.c shares with startup.c. */
#ifndef FW_PLATFORM_H
#define FW_PLATFORM_H
#include <stddef.h>
#include <stdint.h>

#define FW_STACK_PAINT 0xC0FFEE11u

/* UART: 8N1, polled transmit, receive interrupt only to wake the CPU from WFI. */
void uart_init(uint32_t base, int rx_interrupt);
void uart_write(uint32_t base, const uint8_t *bytes, size_t n);
/* 1 and the byte when one is waiting, else 0. */
int uart_read(uint32_t base, uint8_t *byte);

/* Watchdog: NMI after timeout_ticks without a stroke, board reset after twice that. */
void watchdog_start(uint32_t timeout_ticks);
void watchdog_stroke(void);
/* Set by the NMI handler (first expiry) and kept across the reset in .noinit. */
int watchdog_fired(void);
void watchdog_clear_fired(void);

/* SysTick: a 10 ms interrupt (wakes the frame loop) and a free-running 25 MHz tick count. */
void systick_start(void);
uint32_t systick_ticks(void);

/* Bytes of stack ever used (the painted region that is no longer painted). */
uint32_t stack_high_water(void);

#endif
