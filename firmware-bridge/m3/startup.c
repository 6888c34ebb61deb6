/* Vector table and reset handler for the Cortex-M3: copy .data, clear .bss, paint the stack, run main. */
#include <stdint.h>
#include "platform.h"

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_bottom, _stack_top;
int main(void);
void Reset_Handler(void);
void Default_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void SysTick_Handler(void);
void UART0_RX_Handler(void);

void Reset_Handler(void) {
  uint32_t *src = &_data_load;
  for (uint32_t *dst = &_data_start; dst < &_data_end;) *dst++ = *src++;
  for (uint32_t *dst = &_bss_start; dst < &_bss_end;) *dst++ = 0u;
  /* Paint the stack below the current frame so STATUS can report the high-water mark. */
  uint32_t *sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t *p = &_stack_bottom; p < sp - 16; p++) *p = FW_STACK_PAINT;
  main();
  for (;;) {
  }
}

/* An unexpected fault or interrupt: stop; the watchdog resets the board. */
void Default_Handler(void) {
  for (;;) {
  }
}

void HardFault_Handler(void) {
  for (;;) {
  }
}

/* The initial stack pointer, then the 15 system handlers and 32 external interrupts. */
typedef struct {
  uint32_t *initial_sp;
  void (*handlers[15 + 32])(void);
} vector_table;

__attribute__((section(".vectors"), used)) static const vector_table vectors = {&_stack_top, {
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    Default_Handler, /* MemManage */
    Default_Handler, /* BusFault */
    Default_Handler, /* UsageFault */
    0, 0, 0, 0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMon */
    0,
    Default_Handler, /* PendSV */
    SysTick_Handler,
    /* External interrupts 0..31: UART0 RX is 0. */
    UART0_RX_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler}};
