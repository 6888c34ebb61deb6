#include "mps2.h"
#include "platform.h"

#define RELOAD (MPS2_SYSCLK_HZ / 100u) /* 10 ms */

static volatile uint32_t wraps = 0;

void systick_start(void) {
  SYST_RVR = RELOAD - 1u;
  SYST_CVR = 0u;
  SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

void SysTick_Handler(void);
void SysTick_Handler(void) { wraps++; }

uint32_t systick_ticks(void) {
  /* Read wraps around the counter twice so a wrap between the reads is not lost. */
  for (;;) {
    const uint32_t w = wraps;
    const uint32_t v = SYST_CVR;
    if (w == wraps) return w * RELOAD + (RELOAD - 1u - v);
  }
}
