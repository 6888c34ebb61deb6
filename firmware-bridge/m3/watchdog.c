#include "mps2.h"
#include "platform.h"

#define FIRED_MAGIC 0x57444F47u /* "WDOG" */

/* Not cleared by the reset handler: tells the next boot that the watchdog, not power-on, reset the board. */
static volatile uint32_t fired __attribute__((section(".noinit")));

void watchdog_start(uint32_t timeout_ticks) {
  WDOG_LOCK = WDOG_UNLOCK_KEY;
  WDOG_LOAD = timeout_ticks;
  WDOG_CONTROL = WDOG_CONTROL_INTEN | WDOG_CONTROL_RESEN;
  WDOG_LOCK = 0u;
}

void watchdog_stroke(void) {
  WDOG_LOCK = WDOG_UNLOCK_KEY;
  WDOG_INTCLR = 1u; /* clears the interrupt and reloads the counter */
  WDOG_LOCK = 0u;
}

int watchdog_fired(void) { return fired == FIRED_MAGIC; }
void watchdog_clear_fired(void) { fired = 0u; }

/*
 * First expiry: the frame loop has not come round for a whole timeout. Note it and return without clearing
 * the interrupt, so the second expiry resets the board.
 */
void NMI_Handler(void);
void NMI_Handler(void) { fired = FIRED_MAGIC; }
